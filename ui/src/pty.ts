// The client side of the PTY WebSocket (GET /v1/sandboxes/{id}/pty): binary
// frames are terminal bytes both ways; text frames are JSON control messages
// (client → server: resize; server → client: exit, error; Ctrl-C
// is the byte 0x03, which the terminal's line discipline turns into SIGINT). The
// browser sends the session cookie and its Origin; the server checks both.

export interface PtyHandlers {
  output: (bytes: Uint8Array) => void;
  exit: (code: number) => void;
  error: (message: string) => void;
  /** closed is called once when the socket closes, after exit or error if any. */
  closed: (code: number, reason: string) => void;
  open?: () => void;
}

/**
 * ptyURL answers the WebSocket URL of a login-shell PTY on the page's own
 * origin. A browser cannot send X-Warren-Team on a WebSocket, so the team
 * (when the user chose one) goes in the query.
 */
export function ptyURL(loc: Pick<Location, 'protocol' | 'host'>, sandboxId: string, cols: number, rows: number, team = ''): string {
  const q = new URLSearchParams({ cols: String(cols), rows: String(rows) });
  if (team) q.set('team', team);
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${loc.host}/v1/sandboxes/${encodeURIComponent(sandboxId)}/pty?${q}`;
}

const encoder = new TextEncoder();

/** PtySession is one PTY WebSocket. */
export class PtySession {
  private ws: WebSocket;
  private ended = false;

  constructor(url: string, private h: PtyHandlers) {
    this.ws = new WebSocket(url);
    this.ws.binaryType = 'arraybuffer';
    this.ws.onopen = () => h.open?.();
    this.ws.onmessage = (e: MessageEvent) => this.message(e.data);
    this.ws.onclose = (e: CloseEvent) => {
      if (!this.ended && e.code !== 1000) h.error(e.reason || `the terminal connection closed (code ${e.code})`);
      this.ended = true;
      h.closed(e.code, e.reason);
    };
  }

  private message(data: unknown) {
    if (data instanceof ArrayBuffer) {
      this.h.output(new Uint8Array(data));
      return;
    }
    let m: { type?: string; code?: number; message?: string };
    try {
      m = JSON.parse(String(data));
    } catch {
      this.h.error('the server sent a control message that is not JSON');
      return;
    }
    if (m.type === 'exit' && typeof m.code === 'number') {
      this.ended = true;
      this.h.exit(m.code);
    } else if (m.type === 'error') {
      this.ended = true;
      this.h.error(m.message || 'the terminal failed');
    }
    // Other control messages are for newer clients: ignored.
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** input sends keystrokes (a string is sent as UTF-8). */
  input(data: string | Uint8Array) {
    if (this.open) this.ws.send(typeof data === 'string' ? encoder.encode(data) : data);
  }

  resize(cols: number, rows: number) {
    if (this.open && cols > 0 && rows > 0) this.ws.send(JSON.stringify({ type: 'resize', cols, rows }));
  }

  /** close ends the session; one still connecting is closed once open (closing it earlier makes browsers warn). */
  close() {
    this.ended = true;
    if (this.ws.readyState === WebSocket.CONNECTING) this.ws.onopen = () => this.ws.close(1000);
    else if (this.open) this.ws.close(1000);
  }
}
