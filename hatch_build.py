"""Build hook: compiles streamlab's small C extensions (``SOURCES``).

They make hot per-row loops faster (key lookups, per-group counts and sums, the running maximum of watermarks); they are
optional. Without a C compiler or the Python headers the build prints why and goes on, and
streamlab uses its pure-Python paths (they give the same results). ``STREAMLAB_PURE_PYTHON=1``
skips the compilation.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCES = [Path("streamlab/windows/_strtable.c"), Path("streamlab/windows/_groupsums.c"),
           Path("streamlab/core/_runmax.c")]


def compile_extension(root: Path, relative: Path) -> Path | None:
    """Compile one extension next to its source; its path, or None (with the reason printed)."""
    if os.environ.get("STREAMLAB_PURE_PYTHON"):
        print(f"streamlab: STREAMLAB_PURE_PYTHON is set, {relative} is not built", file=sys.stderr)
        return None
    source = root / relative
    target = source.with_name(source.stem + (sysconfig.get_config_var("EXT_SUFFIX") or ".so"))
    if target.exists() and target.stat().st_mtime >= source.stat().st_mtime:
        return target
    cc = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")
    include = sysconfig.get_paths()["include"]
    cmd = [*cc, "-O2", "-fPIC", "-shared", "-pthread", "-Wall", f"-I{include}", str(source), "-o", str(target)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.SubprocessError) as err:
        print(f"streamlab: {relative} was not built ({err}); its pure-Python path is used", file=sys.stderr)
        return None
    if done.returncode:
        print(f"streamlab: {relative} was not built:\n{done.stderr}\nits pure-Python path is used", file=sys.stderr)
        return None
    return target


class CustomBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        if self.target_name != "wheel":
            return
        root = Path(self.root)
        for relative in SOURCES:
            built = compile_extension(root, relative)
            if built is None:
                continue
            build_data["pure_python"] = False
            build_data["infer_tag"] = True
            if version != "editable":  # an editable install imports it from the source tree
                build_data["force_include"][str(built)] = str(built.relative_to(root))
