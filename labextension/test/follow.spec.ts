/**
 * Issue 4: the panel follows the active notebook's kernel as the user switches
 * notebooks. The real follower, model and CommTransport run against fake notebooks,
 * session contexts and kernels whose comm answers like the kernel's streamlab.
 */
import { Signal } from '@lumino/signaling';

import { followActiveNotebook } from '../src/follow';
import { StreamlabModel } from '../src/model';
import { PROTOCOL_VERSION } from '../src/protocol';
import { FakeComm, FakeKernel, flush, hello, push, snapshot } from './helpers';

type Summary = { name: string; state: string };

/** A kernel whose streamlab comm answers hello and subscribe on its own. */
class StreamlabKernel extends FakeKernel {
  constructor(
    readonly id: string,
    public pipelines: Summary[],
    hasTarget = true
  ) {
    super(hasTarget);
  }

  /** `%load_ext streamlab` ran: the comm target exists from now on. */
  loadExtension(): void {
    (this as { hasTarget: boolean }).hasTarget = true;
  }

  createComm(targetName: string): any {
    const comm: FakeComm = super.createComm(targetName);
    const send = comm.send.bind(comm);
    comm.send = (data: any) => {
      const sent = send(data);
      void Promise.resolve().then(() => {
        if (comm.isDisposed) {
          return;
        }
        if (data.kind === 'hello') {
          comm.receive({ ...hello(this.pipelines), id: data.id });
        } else if (data.kind === 'subscribe') {
          comm.receive({
            kind: 'reply',
            request: 'subscribe',
            version: PROTOCOL_VERSION,
            id: data.id,
            subscribed: data.visible,
            push_interval_ms: 250
          });
        }
      });
      return sent;
    };
    return comm;
  }

  /** The comm the panel talks over now. */
  get liveComm(): FakeComm | undefined {
    return this.comms.filter(c => !c.isDisposed).pop();
  }
}

/** A session context with the signals the follower listens to. */
class FakeSessionContext {
  constructor(kernel: StreamlabKernel | null, ready: Promise<void> = Promise.resolve()) {
    this.session = { kernel };
    this.ready = ready;
  }

  session: { kernel: StreamlabKernel | null };
  ready: Promise<void>;
  kernelChanged = new Signal<any, any>(this);
  statusChanged = new Signal<any, string>(this);
  iopubMessage = new Signal<any, any>(this);

  changeKernel(kernel: StreamlabKernel | null): void {
    const oldValue = this.session.kernel;
    this.session = { kernel };
    this.kernelChanged.emit({ name: 'kernel', oldValue, newValue: kernel });
  }

  /** What JupyterLab shows while the kernel restarts, then once it is back. */
  restart(): void {
    this.statusChanged.emit('restarting');
  }

  backIdle(): void {
    this.statusChanged.emit('idle');
  }

  /** A cell finished running (from any client). */
  executed(): void {
    this.iopubMessage.emit({
      header: { msg_type: 'status' },
      parent_header: { msg_type: 'execute_request' },
      content: { execution_state: 'idle' }
    });
  }
}

function notebook(label: string, context: FakeSessionContext): any {
  return { title: { label }, sessionContext: context };
}

/** The notebook tracker's part the follower uses. */
class FakeTracker {
  currentWidget: any = null;
  currentChanged = new Signal<any, any>(this);

  activate(widget: any): void {
    this.currentWidget = widget;
    this.currentChanged.emit(widget);
  }
}

function names(model: StreamlabModel): string[] {
  return model.pipelines.map(p => p.name);
}

const models: StreamlabModel[] = [];

afterEach(() => {
  models.splice(0).forEach(m => m.dispose());
});

async function setup(options: { startOn?: 'a' | 'none' } = {}) {
  const kernelA = new StreamlabKernel('a', [{ name: 'alpha', state: 'running' }]);
  const kernelB = new StreamlabKernel('b', [
    { name: 'beta', state: 'paused' },
    { name: 'gamma', state: 'running' }
  ]);
  const contextA = new FakeSessionContext(kernelA);
  const contextB = new FakeSessionContext(kernelB);
  const nbA = notebook('a.ipynb', contextA);
  const nbB = notebook('b.ipynb', contextB);
  const tracker = new FakeTracker();
  if ((options.startOn ?? 'a') === 'a') {
    tracker.currentWidget = nbA;
  }
  const model = new StreamlabModel();
  models.push(model);
  await model.setVisible(true);
  followActiveNotebook(tracker as any, model);
  await flush();
  return { kernelA, kernelB, contextA, contextB, nbA, nbB, tracker, model };
}

describe('following the active notebook', () => {
  it("connects to the current notebook's kernel at start", async () => {
    const { model, kernelA, kernelB } = await setup();
    expect(model.status).toBe('connected');
    expect(model.label).toBe('a.ipynb');
    expect(names(model)).toEqual(['alpha']);
    expect(kernelA.comms).toHaveLength(1);
    expect(kernelA.comms[0].targetName).toBe('streamlab');
    expect(kernelB.comms).toHaveLength(0);
  });

  it('shows no kernel while no notebook is current, then follows the first one', async () => {
    const { model, tracker, nbB, kernelB } = await setup({ startOn: 'none' });
    expect(model.status).toBe('no-kernel');
    expect(names(model)).toEqual([]);
    tracker.activate(nbB);
    await flush();
    expect(model.status).toBe('connected');
    expect(model.label).toBe('b.ipynb');
    expect(names(model)).toEqual(['beta', 'gamma']);
    expect(kernelB.comms).toHaveLength(1);
  });

  it('switches to the other kernel and its pipelines when the user switches notebooks', async () => {
    const { model, tracker, nbA, nbB, kernelA, kernelB } = await setup();
    const commA = kernelA.comms[0];

    tracker.activate(nbB);
    await flush();
    expect(model.status).toBe('connected');
    expect(model.label).toBe('b.ipynb');
    expect(names(model)).toEqual(['beta', 'gamma']);
    expect(model.pipeline('beta')?.state).toBe('paused');
    // the old kernel's comm is closed, the new kernel got hello + subscribe
    expect(commA.closedByPanel).toBe(true);
    expect(kernelB.comms).toHaveLength(1);
    expect(kernelB.comms[0].sent.map((m: any) => m.kind)).toEqual([
      'hello',
      'subscribe'
    ]);

    // pushes now come from B's kernel; A's closed comm no longer matters
    kernelB.liveComm!.receive(push(1, [snapshot({ name: 'gamma' })]));
    expect(names(model)).toEqual(['gamma']);

    // and back again
    tracker.activate(nbA);
    await flush();
    expect(model.label).toBe('a.ipynb');
    expect(names(model)).toEqual(['alpha']);
    expect(kernelA.comms).toHaveLength(2);
    expect(kernelB.comms[0].closedByPanel).toBe(true);
  });

  it('shows no kernel when the last notebook goes away', async () => {
    const { model, tracker, kernelA } = await setup();
    tracker.activate(null);
    await flush();
    expect(model.status).toBe('no-kernel');
    expect(names(model)).toEqual([]);
    expect(kernelA.comms[0].closedByPanel).toBe(true);
  });

  it('stops listening to the notebook it left', async () => {
    const { model, tracker, nbB, contextA, kernelB } = await setup();
    tracker.activate(nbB);
    await flush();
    // a restart of the notebook the user left must not empty B's pipelines
    contextA.restart();
    contextA.backIdle();
    contextA.changeKernel(new StreamlabKernel('a2', [{ name: 'other', state: 'running' }]));
    await flush();
    expect(model.status).toBe('connected');
    expect(model.label).toBe('b.ipynb');
    expect(names(model)).toEqual(['beta', 'gamma']);
    expect(kernelB.comms).toHaveLength(1);
  });

  it('ignores a notebook that became ready after the user had moved on', async () => {
    const kernelSlow = new StreamlabKernel('slow', [{ name: 'slow', state: 'running' }]);
    let ready!: () => void;
    const slow = notebook(
      'slow.ipynb',
      new FakeSessionContext(kernelSlow, new Promise<void>(r => (ready = r)))
    );
    const { model, tracker, nbB } = await setup();
    tracker.activate(slow);
    tracker.activate(nbB);
    await flush();
    ready();
    await flush();
    expect(model.label).toBe('b.ipynb');
    expect(names(model)).toEqual(['beta', 'gamma']);
    expect(kernelSlow.comms).toHaveLength(0);
  });

  it('follows a kernel change within the current notebook', async () => {
    const { model, contextA, kernelA } = await setup();
    const other = new StreamlabKernel('a2', [{ name: 'delta', state: 'stopped' }]);
    contextA.changeKernel(other);
    await flush();
    expect(model.status).toBe('connected');
    expect(names(model)).toEqual(['delta']);
    expect(kernelA.comms[0].closedByPanel).toBe(true);
    expect(other.comms).toHaveLength(1);

    contextA.changeKernel(null);
    await flush();
    expect(model.status).toBe('no-kernel');
    expect(names(model)).toEqual([]);
  });

  it('shows no pipelines during a restart and reconnects once the kernel is idle', async () => {
    const { model, tracker, nbB, contextB, kernelB } = await setup();
    tracker.activate(nbB);
    await flush();
    expect(names(model)).toEqual(['beta', 'gamma']);

    contextB.restart();
    expect(model.status).toBe('disconnected');
    expect(names(model)).toEqual([]);
    // the restarted kernel runs a fresh streamlab with other pipelines
    kernelB.pipelines = [{ name: 'epsilon', state: 'running' }];
    await flush();
    expect(kernelB.comms).toHaveLength(1); // no reconnect while restarting

    contextB.backIdle();
    await flush();
    expect(model.status).toBe('connected');
    expect(model.label).toBe('b.ipynb');
    expect(names(model)).toEqual(['epsilon']);
    expect(kernelB.comms).toHaveLength(2);

    // a later idle (not after a restart) does not open yet another comm
    contextB.backIdle();
    await flush();
    expect(kernelB.comms).toHaveLength(2);
  });

  it('notices a later %load_ext streamlab in a kernel it switched to', async () => {
    const { model, tracker, kernelA } = await setup();
    const plain = new StreamlabKernel('plain', [{ name: 'late', state: 'running' }], false);
    const context = new FakeSessionContext(plain);
    tracker.activate(notebook('plain.ipynb', context));
    await flush();
    expect(model.status).toBe('not-enabled');
    expect(names(model)).toEqual([]);
    expect(plain.comms).toHaveLength(1);

    plain.loadExtension();
    context.executed();
    await flush();
    expect(model.status).toBe('connected');
    expect(model.label).toBe('plain.ipynb');
    expect(names(model)).toEqual(['late']);
    expect(kernelA.comms[0].closedByPanel).toBe(true);
  });
});
