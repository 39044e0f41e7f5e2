/**
 * The copy of a WebSocket session's frames as they pass the proxy: each with its side, its offset
 * from the `101` and its payload (audio as a digest with --ws-audio digest), and the close. A
 * session whose frames outgrow the --max-body budget is relayed whole but not saved.
 */
import { digestAudioFrame } from '../cassette/websocket.js';
import type { WebSocketFrame, WebSocketSession } from '../cassette/types.js';
import type { WsAudio } from '../mode.js';

export class FrameLog {
  private readonly frames: WebSocketFrame[] = [];
  private readonly started = performance.now();
  private bytes = 0;
  /** Set when the frames outgrew the budget: the session is not saved. */
  overflowed = false;

  constructor(
    private readonly audio: WsAudio,
    private readonly budget: number,
  ) {}

  message(from: WebSocketFrame['from'], data: Buffer, isBinary: boolean): void {
    if (this.overflowed) return;
    this.bytes += data.length;
    if (this.bytes > this.budget) {
      this.overflowed = true;
      this.frames.length = 0;
      return;
    }
    const frame: WebSocketFrame = { from, at_ms: this.offset() };
    if (isBinary) frame.binary = Buffer.from(data);
    else frame.text = this.audio === 'digest' ? digestAudioFrame(data.toString('utf8')) : data.toString('utf8');
    this.frames.push(frame);
  }

  /** A close frame `from` sent; 1005 when it carried no code. */
  close(from: WebSocketFrame['from'], code: number, reason: string): void {
    this.frames.push({ from, at_ms: this.offset(), close_code: code, close_reason: reason });
  }

  session(): WebSocketSession {
    return this.audio === 'digest' ? { audio: 'digest', frames: this.frames } : { frames: this.frames };
  }

  private offset(): number {
    return Math.round((performance.now() - this.started) * 1000) / 1000;
  }
}
