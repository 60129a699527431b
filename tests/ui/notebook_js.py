"""Page conditions for driving a notebook in JupyterLab (shared by the browser tests).

Readiness follows TESTING.md: the notebook context is ready, it has cells, its kernel is connected
and idle, and no dialog (e.g. "Select Kernel") is open. Run-all is fired without awaiting it.
"""

READY = """() => {
  const app = window.jupyterapp;
  const w = app && app.shell.currentWidget;
  if (!w || !w.context || !w.content || !w.sessionContext) return false;
  const kernel = w.sessionContext.session && w.sessionContext.session.kernel;
  return w.context.isReady && w.content.widgets.length > 0 && !!kernel
    && kernel.connectionStatus === 'connected' && kernel.status === 'idle'
    && !document.querySelector('.jp-Dialog');
}"""

RUN_ALL = "() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }"

ALL_EXECUTED = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  const cells = w.content.widgets.filter(c => c.model.type === 'code');
  return cells.length > 0 && cells.every(c => c.model.executionCount !== null)
    && w.sessionContext.session.kernel.status === 'idle';
}"""

CELL_ERRORS = """() => window.jupyterapp.shell.currentWidget.content.widgets
  .filter(c => c.model.type === 'code')
  .flatMap(c => c.model.outputs.toJSON())
  .filter(o => o.output_type === 'error')
  .map(o => o.ename + ': ' + o.evalue)"""
