# syntax=docker/dockerfile:1
# Build stage: compile TypeScript with the dev dependencies.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
# npm ci runs the `prepare` script, which compiles src/ into dist/src/.
RUN npm ci

# Runtime stage: production dependencies and the compiled code only, as a non-root user.
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    CASSETTE_PROXY_HOST=0.0.0.0 \
    CASSETTE_PROXY_PORT=8080 \
    CASSETTE_PROXY_CASSETTE_DIR=/cassettes
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist/src ./dist/src
RUN mkdir -p /cassettes && chown node:node /cassettes
USER node
VOLUME ["/cassettes"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.CASSETTE_PROXY_PORT||8080)+'/_proxy/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "dist/src/cli/main.js"]
