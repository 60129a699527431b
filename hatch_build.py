"""Build hook: compiles streamlab's one C extension (``streamlab/windows/_strtable.c``).

The extension makes key lookups faster; it is optional. Without a C compiler or the Python
headers the build prints why and goes on, and streamlab uses its pure-Python paths (they give
the same results). ``STREAMLAB_PURE_PYTHON=1`` skips the compilation.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = Path("streamlab/windows/_strtable.c")


def compile_extension(root: Path) -> Path | None:
    """Compile the extension next to its source; its path, or None (with the reason printed)."""
    if os.environ.get("STREAMLAB_PURE_PYTHON"):
        print("streamlab: STREAMLAB_PURE_PYTHON is set, the C extension is not built", file=sys.stderr)
        return None
    source = root / SOURCE
    target = source.with_name("_strtable" + (sysconfig.get_config_var("EXT_SUFFIX") or ".so"))
    if target.exists() and target.stat().st_mtime >= source.stat().st_mtime:
        return target
    cc = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")
    include = sysconfig.get_paths()["include"]
    cmd = [*cc, "-O2", "-fPIC", "-shared", "-Wall", f"-I{include}", str(source), "-o", str(target)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.SubprocessError) as err:
        print(f"streamlab: the C extension was not built ({err}); pure-Python key paths", file=sys.stderr)
        return None
    if done.returncode:
        print(f"streamlab: the C extension was not built:\n{done.stderr}\npure-Python key paths", file=sys.stderr)
        return None
    return target


class CustomBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        if self.target_name != "wheel":
            return
        built = compile_extension(Path(self.root))
        if built is None:
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        if version != "editable":  # an editable install imports it from the source tree
            build_data["force_include"][str(built)] = f"streamlab/windows/{built.name}"
