// FakeSocket stands in for the browser's WebSocket: it records what was sent
// and lets a test play the server (open, binary/text messages, close).
export class FakeSocket {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSING = 2;
  static CLOSED = 3;
  static all: FakeSocket[] = [];

  readyState = FakeSocket.CONNECTING;
  binaryType = 'blob';
  sent: (string | Uint8Array)[] = [];
  closedWith: number | undefined;
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onclose: ((e: { code: number; reason: string }) => void) | null = null;

  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }

  send(d: string | Uint8Array) {
    if (this.readyState !== FakeSocket.OPEN) throw new Error('send on a socket that is not open');
    this.sent.push(d);
  }

  close(code?: number) {
    this.closedWith = code;
    this.serverClose(code ?? 1005, '');
  }

  // The server's side.
  serverOpen() {
    this.readyState = FakeSocket.OPEN;
    this.onopen?.();
  }
  serverBinary(text: string) {
    this.onmessage?.({ data: new TextEncoder().encode(text).buffer });
  }
  serverText(json: unknown) {
    this.onmessage?.({ data: typeof json === 'string' ? json : JSON.stringify(json) });
  }
  serverClose(code: number, reason: string) {
    this.readyState = FakeSocket.CLOSED;
    this.onclose?.({ code, reason });
  }

  /** texts answers the text frames sent, parsed; binaries the binary frames, decoded. */
  texts() {
    return this.sent.filter((d) => typeof d === 'string').map((d) => JSON.parse(d as string));
  }
  binaries() {
    return this.sent.filter((d) => typeof d !== 'string').map((d) => new TextDecoder().decode(d as Uint8Array));
  }
}

export function installFakeSocket() {
  FakeSocket.all = [];
  vi.stubGlobal('WebSocket', FakeSocket);
}
