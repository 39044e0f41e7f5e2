/**
 * Azure OpenAI: OpenAI's API under deployment paths (`/openai/deployments/{deployment}/…`, or the
 * v1 paths `/openai/v1/…`), an `api-version` query parameter, and the key in `api-key` (or a
 * Microsoft Entra token in Authorization). Its clients are OpenAI's SDKs (`AzureOpenAI`), which
 * read OpenAI's error shape and obey `x-should-retry`.
 */
import { OPENAI_FINAL_EVENTS, renderOpenAIError } from './openai.js';
import { streams, type ProviderProfile } from './profile.js';

export const azure: ProviderProfile = {
  name: 'azure',
  baseUrl: 'https://example-resource.openai.azure.com',
  hosts: [/\.openai\.azure\.com$/, /\.cognitiveservices\.azure\.com$/, /\.services\.ai\.azure\.com$/],
  overloadedStatus: 503,
  key: { header: 'api-key', prefix: '', replaces: { headers: ['authorization'], params: [] } },
  credentialHeaders: ['api-key'],
  credentialParams: [],
  framing: streams(OPENAI_FINAL_EVENTS),
  renderError: renderOpenAIError,
};
