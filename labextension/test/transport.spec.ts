import { PROTOCOL_VERSION } from '../src/protocol';
import { CommTransport, RequestError } from '../src/transport';
import { FakeKernel, flush, push, snapshot } from './helpers';

const transports: CommTransport[] = [];

afterEach(() => {
  transports.splice(0).forEach(t => t.dispose());
});

async function openTransport(kernel = new FakeKernel()) {
  const transport = new CommTransport(kernel, { timeoutMs: 1000 });
  transports.push(transport);
  const opened = await transport.open();
  return { transport, kernel, comm: kernel.comms[0], opened };
}

describe('CommTransport', () => {
  it('opens a comm to the streamlab target, announcing its protocol version', async () => {
    const { comm, opened, transport } = await openTransport();
    expect(opened).toBe(true);
    expect(transport.isOpen).toBe(true);
    expect(comm.targetName).toBe('streamlab');
    expect(comm.openData).toEqual({ version: PROTOCOL_VERSION });
  });

  it('keeps its messages off kernel subshells (the kernel side runs on the main loop)', async () => {
    const { comm } = await openTransport();
    expect(comm.commsOverSubshells).toBe('disabled');
  });

  it('resolves open() false when the kernel has no streamlab target', async () => {
    const { opened, transport } = await openTransport(new FakeKernel(false));
    expect(opened).toBe(false);
    expect(transport.isOpen).toBe(false);
  });

  it('sends typed requests with fresh ids and the version', async () => {
    const { comm, transport } = await openTransport();
    transport.request({ kind: 'hello' }).catch(() => undefined);
    transport.request({ kind: 'snapshot', pipeline: 'demo' }).catch(() => undefined);
    expect(comm.sent).toEqual([
      { kind: 'hello', id: 1, version: PROTOCOL_VERSION },
      { kind: 'snapshot', pipeline: 'demo', id: 2, version: PROTOCOL_VERSION }
    ]);
  });

  it('matches replies to requests by id, in any order', async () => {
    const { comm, transport } = await openTransport();
    const a = transport.request({ kind: 'list' });
    const b = transport.request({ kind: 'snapshot', pipeline: 'demo' });
    comm.receive({
      id: 2,
      kind: 'reply',
      request: 'snapshot',
      version: 1,
      snapshot: snapshot()
    });
    comm.receive({ id: 1, kind: 'reply', request: 'list', version: 1, pipelines: [] });
    await expect(a).resolves.toMatchObject({ request: 'list', pipelines: [] });
    await expect(b).resolves.toMatchObject({ snapshot: { name: 'demo' } });
  });

  it('rejects a request answered with an error, carrying the code', async () => {
    const { comm, transport } = await openTransport();
    const reply = transport.request({
      kind: 'command',
      pipeline: 'nope',
      action: 'pause'
    });
    comm.receive({
      id: 1,
      kind: 'error',
      version: 1,
      code: 'unknown_pipeline',
      message: "no pipeline named 'nope' in this kernel"
    });
    await expect(reply).rejects.toBeInstanceOf(RequestError);
    await expect(reply).rejects.toMatchObject({ code: 'unknown_pipeline' });
  });

  it('emits well-formed pushes and ignores malformed ones', async () => {
    const { comm, transport } = await openTransport();
    const seen: number[] = [];
    transport.pushed.connect((_, p) => seen.push(p.seq));
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    comm.receive(push(1));
    comm.receive({ kind: 'snapshots', seq: 2, pipelines: 'not a list' });
    comm.receive({ kind: 'snapshots', seq: 3, pipelines: [{ state: 'no name' }] });
    comm.receive('garbage');
    comm.receive(push(4));
    expect(seen).toEqual([1, 4]);
    expect(warn).toHaveBeenCalledTimes(3);
    warn.mockRestore();
  });

  it('ignores a response to no pending request', async () => {
    const { comm, transport } = await openTransport();
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    comm.receive({ id: 99, kind: 'reply', request: 'list', version: 1, pipelines: [] });
    comm.receive({ id: null, kind: 'error', version: 1, code: 'bad_request', message: 'x' });
    expect(warn).toHaveBeenCalledTimes(2);
    expect(transport.isOpen).toBe(true);
    warn.mockRestore();
  });

  it('times out a request the kernel never answers', async () => {
    jest.useFakeTimers();
    try {
      const { transport } = await openTransport();
      const reply = transport.request({ kind: 'list' });
      jest.advanceTimersByTime(1001);
      await expect(reply).rejects.toMatchObject({ code: 'timeout' });
    } finally {
      jest.useRealTimers();
    }
  });

  it('rejects pending requests and emits closed when the kernel closes the comm', async () => {
    const { comm, transport } = await openTransport();
    let closed = 0;
    transport.closed.connect(() => (closed += 1));
    const reply = transport.request({ kind: 'list' });
    comm.closeFromKernel();
    await expect(reply).rejects.toMatchObject({ code: 'closed' });
    expect(closed).toBe(1);
    expect(transport.isOpen).toBe(false);
    await expect(transport.request({ kind: 'list' })).rejects.toMatchObject({
      code: 'not-open'
    });
  });

  it('closes the comm when disposed, without emitting closed', async () => {
    const { comm, transport } = await openTransport();
    let closed = 0;
    transport.closed.connect(() => (closed += 1));
    const reply = transport.request({ kind: 'list' });
    transport.dispose();
    await expect(reply).rejects.toMatchObject({ code: 'closed' });
    expect(comm.closedByPanel).toBe(true);
    expect(closed).toBe(0);
    await flush();
  });

  it('refuses requests before open', async () => {
    const transport = new CommTransport(new FakeKernel());
    await expect(transport.request({ kind: 'hello' })).rejects.toMatchObject({
      code: 'not-open'
    });
  });
});
