import { PtySession, ptyURL } from '../pty';
import { FakeSocket, installFakeSocket } from './fakeSocket';

function session() {
  const h = { output: vi.fn(), exit: vi.fn(), error: vi.fn(), closed: vi.fn(), open: vi.fn() };
  const s = new PtySession('ws://x/v1/sandboxes/sb-1/pty?cols=80&rows=24', h);
  return { s, h, ws: FakeSocket.all.at(-1)! };
}

describe('PtySession', () => {
  beforeEach(installFakeSocket);

  it('builds the URL on the page origin, ws or wss, with cols and rows', () => {
    expect(ptyURL({ protocol: 'http:', host: '127.0.0.1:8080' }, 'sb-1', 100, 30)).toBe('ws://127.0.0.1:8080/v1/sandboxes/sb-1/pty?cols=100&rows=30');
    expect(ptyURL({ protocol: 'https:', host: 'warren.example' }, 'sb 2', 80, 24)).toBe('wss://warren.example/v1/sandboxes/sb%202/pty?cols=80&rows=24');
    expect(ptyURL({ protocol: 'http:', host: 'h' }, 'sb-1', 80, 24, 'team-x')).toBe('ws://h/v1/sandboxes/sb-1/pty?cols=80&rows=24&team=team-x');
  });

  it('sends input as binary frames and resizes as JSON text frames, only once open', () => {
    const { s, h, ws } = session();
    expect(ws.binaryType).toBe('arraybuffer');
    s.input('ignored before open');
    s.resize(90, 30);
    expect(ws.sent).toHaveLength(0);
    ws.serverOpen();
    expect(h.open).toHaveBeenCalledTimes(1);
    s.input('echo hé\r');
    s.input(new Uint8Array([3]));
    s.resize(120, 40);
    s.resize(0, 40); // a hidden terminal has no size: nothing sent
    expect(ws.binaries()).toEqual(['echo hé\r', '\u0003']);
    expect(ws.sent[0]).toBeInstanceOf(Uint8Array);
    expect(ws.texts()).toEqual([{ type: 'resize', cols: 120, rows: 40 }]);
  });

  it('hands binary frames to output and reports exit, then the close', () => {
    const { h, ws } = session();
    ws.serverOpen();
    ws.serverBinary('hi\r\n');
    expect(new TextDecoder().decode(h.output.mock.calls[0][0])).toBe('hi\r\n');
    ws.serverText({ type: 'exit', code: 3 });
    ws.serverClose(1000, '');
    expect(h.exit).toHaveBeenCalledWith(3);
    expect(h.error).not.toHaveBeenCalled();
    expect(h.closed).toHaveBeenCalledWith(1000, '');
  });

  it('reports error messages, bad control frames and unexpected closes; ignores unknown types', () => {
    const a = session();
    a.ws.serverOpen();
    a.ws.serverText({ type: 'hello-from-the-future' });
    expect(a.h.error).not.toHaveBeenCalled();
    a.ws.serverText('{not json');
    expect(a.h.error).toHaveBeenLastCalledWith('the server sent a control message that is not JSON');
    a.ws.serverText({ type: 'error', message: 'sandbox sb-1 is paused' });
    a.ws.serverClose(1011, 'internal');
    expect(a.h.error).toHaveBeenLastCalledWith('sandbox sb-1 is paused');
    expect(a.h.error).toHaveBeenCalledTimes(2); // the close after an error is not another error

    const b = session();
    b.ws.serverClose(1006, '');
    expect(b.h.error).toHaveBeenCalledWith('the terminal connection closed (code 1006)');
    expect(b.h.closed).toHaveBeenCalledWith(1006, '');
  });

  it('closes with 1000; one still connecting is closed as soon as it opens', () => {
    const a = session();
    a.ws.serverOpen();
    a.s.close();
    expect(a.ws.closedWith).toBe(1000);
    expect(a.h.error).not.toHaveBeenCalled();

    const b = session();
    b.s.close();
    expect(b.ws.closedWith).toBeUndefined();
    b.ws.serverOpen();
    expect(b.ws.closedWith).toBe(1000);
    expect(b.h.error).not.toHaveBeenCalled();
  });
});
