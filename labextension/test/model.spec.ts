import { StreamlabModel } from '../src/model';
import { PROTOCOL_VERSION } from '../src/protocol';
import { EVIL_KEY, flush, hello, MockTransport, push, snapshot } from './helpers';

function connectedModel(
  transport = new MockTransport({ hello: () => hello() }),
  visible = true
) {
  const model = new StreamlabModel();
  const factory = jest.fn(() => transport);
  return { model, transport, factory, visible };
}

async function connect(visible = true, transport?: MockTransport) {
  const setup = connectedModel(transport, visible);
  await setup.model.setVisible(visible);
  await setup.model.setKernel(setup.factory, 'Untitled.ipynb');
  return setup;
}

describe('StreamlabModel', () => {
  it('starts with no kernel and no pipelines', () => {
    const model = new StreamlabModel();
    expect(model.status).toBe('no-kernel');
    expect(model.pipelines).toEqual([]);
    model.dispose();
  });

  it('says hello, lists the pipelines and subscribes while visible', async () => {
    const { model, transport } = await connect(true);
    expect(model.status).toBe('connected');
    expect(model.label).toBe('Untitled.ipynb');
    expect(model.kernelVersion).toBe('0.1.0');
    expect(model.pipelines.map(p => [p.name, p.state])).toEqual([['demo', 'running']]);
    expect(transport.requests).toEqual([
      { kind: 'hello' },
      { kind: 'subscribe', visible: true }
    ]);
  });

  it('does not bother the kernel while hidden; connects when shown', async () => {
    const { model, transport, factory } = await connect(false);
    expect(factory).not.toHaveBeenCalled();
    await model.connect();
    expect(factory).not.toHaveBeenCalled();
    await model.setVisible(true);
    expect(model.status).toBe('connected');
    await model.setVisible(false);
    expect(model.status).toBe('connected');
    await model.setVisible(true);
    expect(transport.requests).toEqual([
      { kind: 'hello' },
      { kind: 'subscribe', visible: true },
      { kind: 'subscribe', visible: false },
      { kind: 'subscribe', visible: true }
    ]);
  });

  it('says how to enable streamlab when the kernel has no target', async () => {
    const transport = new MockTransport({}, false);
    const { model } = await connect(true, transport);
    expect(model.status).toBe('not-enabled');
    expect(transport.isDisposed).toBe(true);
    expect(model.canRetry).toBe(true);
  });

  it('reports a protocol version mismatch with both versions', async () => {
    const transport = new MockTransport({
      hello: () => ({
        kind: 'error',
        code: 'version_mismatch',
        message: 'mismatch',
        expected: PROTOCOL_VERSION + 1
      })
    });
    const { model } = await connect(true, transport);
    expect(model.status).toBe('version-mismatch');
    expect(model.message).toContain(`protocol ${PROTOCOL_VERSION + 1}`);
    expect(model.message).toContain(`speaks ${PROTOCOL_VERSION}`);
  });

  it('applies pushes in order, dropping overtaken ones', async () => {
    const { model, transport } = await connect();
    const changed = jest.fn();
    model.changed.connect(changed);
    transport.emitPush(push(2, [snapshot({ counters: { in: 20, out: 0, late: 0, errors: 0 } })]));
    transport.emitPush(push(1, [snapshot({ counters: { in: 10, out: 0, late: 0, errors: 0 } })]));
    expect(model.pipeline('demo')?.counters?.in).toBe(20);
    expect(model.pushCount).toBe(1);
    expect(changed).toHaveBeenCalledTimes(1);
    transport.emitPush(push(3, []));
    expect(model.pipelines).toEqual([]);
  });

  it('keeps untrusted names and keys verbatim (escaping is the view’s job)', async () => {
    const { model, transport } = await connect();
    transport.emitPush(push(1, [snapshot({ name: EVIL_KEY })]));
    expect(model.pipelines[0].name).toBe(EVIL_KEY);
  });

  it('sends a command and applies the snapshot in its reply', async () => {
    const transport = new MockTransport({
      hello: () => hello(),
      command: body => ({
        kind: 'reply',
        request: 'command',
        version: PROTOCOL_VERSION,
        pipeline: body.pipeline,
        action: body.action,
        state: 'paused',
        snapshot: snapshot({ state: 'paused' })
      })
    });
    const { model } = await connect(true, transport);
    const done = model.command('demo', 'pause');
    expect(model.pendingCommand('demo')).toBe('pause');
    await expect(done).resolves.toBe(true);
    expect(model.pendingCommand('demo')).toBeUndefined();
    expect(transport.requests).toContainEqual({
      kind: 'command',
      pipeline: 'demo',
      action: 'pause'
    });
    expect(model.pipeline('demo')?.state).toBe('paused');
    expect(model.commandError).toBe('');
  });

  it('shows a refused command as an error, and the next command clears it', async () => {
    let refuse = true;
    const transport = new MockTransport({
      hello: () => hello(),
      command: () =>
        refuse
          ? {
              kind: 'error',
              code: 'unknown_pipeline',
              message: "no pipeline named 'demo' in this kernel"
            }
          : {
              kind: 'reply',
              request: 'command',
              state: 'running',
              snapshot: snapshot()
            }
    });
    const { model } = await connect(true, transport);
    await expect(model.command('demo', 'stop')).resolves.toBe(false);
    expect(model.commandError).toContain("no pipeline named 'demo'");
    refuse = false;
    await model.command('demo', 'resume');
    expect(model.commandError).toBe('');
  });

  it('refuses commands while not connected', async () => {
    const model = new StreamlabModel();
    await expect(model.command('demo', 'pause')).resolves.toBe(false);
    expect(model.commandError).toContain('Not connected');
  });

  it('shows no pipelines when the comm closes (kernel restart), then reconnects', async () => {
    const first = new MockTransport({ hello: () => hello() });
    const second = new MockTransport({ hello: () => hello([{ name: 'again', state: 'idle' }]) });
    const transports = [first, second];
    const model = new StreamlabModel();
    await model.setVisible(true);
    await model.setKernel(() => transports.shift()!, 'nb');
    expect(model.pipelines).toHaveLength(1);

    first.closeFromKernel();
    expect(model.status).toBe('disconnected');
    expect(model.pipelines).toEqual([]);
    expect(first.isDisposed).toBe(true);

    await model.connect();
    expect(model.status).toBe('connected');
    expect(model.pipelines.map(p => p.name)).toEqual(['again']);
    expect(second.kinds()).toEqual(['hello', 'subscribe']);
  });

  it('reset() forgets pipelines at once', async () => {
    const { model, transport } = await connect();
    model.reset();
    expect(model.status).toBe('disconnected');
    expect(model.pipelines).toEqual([]);
    expect(transport.isDisposed).toBe(true);
  });

  it('follows another kernel and ignores the old one’s late messages', async () => {
    const { model, transport } = await connect();
    const other = new MockTransport({ hello: () => hello([{ name: 'b', state: 'idle' }]) });
    await model.setKernel(() => other, 'other.ipynb');
    expect(transport.isDisposed).toBe(true);
    transport.emitPush(push(9, [snapshot({ name: 'stale' })]));
    expect(model.pipelines.map(p => p.name)).toEqual(['b']);
    expect(model.label).toBe('other.ipynb');
    await model.setKernel(null);
    expect(model.status).toBe('no-kernel');
    expect(other.isDisposed).toBe(true);
  });

  it('does not connect twice at once', async () => {
    const { model, factory } = connectedModel();
    await model.setVisible(true);
    await model.setKernel(factory);
    await Promise.all([model.connect(), model.connect()]);
    expect(factory).toHaveBeenCalledTimes(1);
  });

  it('drops a connection that finished after the kernel changed', async () => {
    let release: (ok: boolean) => void = () => undefined;
    const slow = new MockTransport({ hello: () => hello() });
    slow.open = () => new Promise<boolean>(resolve => (release = resolve));
    const model = new StreamlabModel();
    await model.setVisible(true);
    const pending = model.setKernel(() => slow);
    await flush();
    await model.setKernel(null);
    release(true);
    await pending;
    expect(slow.isDisposed).toBe(true);
    expect(model.status).toBe('no-kernel');
  });

  it('toggles which pipelines are expanded', () => {
    const model = new StreamlabModel();
    expect(model.isExpanded('demo')).toBe(false);
    model.toggleExpanded('demo');
    expect(model.isExpanded('demo')).toBe(true);
    model.toggleExpanded('demo');
    expect(model.isExpanded('demo')).toBe(false);
  });

  it('connects again on request once streamlab got loaded', async () => {
    let loaded = false;
    const model = new StreamlabModel();
    await model.setVisible(true);
    await model.setKernel(() =>
      loaded ? new MockTransport({ hello: () => hello() }) : new MockTransport({}, false)
    );
    expect(model.status).toBe('not-enabled');
    loaded = true;
    await model.connect();
    expect(model.status).toBe('connected');
    expect(model.canRetry).toBe(false);
  });
});
