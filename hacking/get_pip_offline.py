"""Stand-in for pip's get-pip.py bootstrap script, for ansible-test on machines that reach PyPI
but not ansible-test's download host.

ansible-test runs this file (cached as ~/.ansible/test/cache/get_pip_<version>.py) inside a new
virtual environment with get-pip's arguments: options, then packages such as ``pip==24.2``.
Like get-pip.py, it runs a pip that is importable without being installed (here the wheel that
ships with CPython's ensurepip) to install the requested packages from the package index.
"""
import glob
import os
import sys

import ensurepip


def main():
    bundled = os.path.join(os.path.dirname(ensurepip.__file__), "_bundled")
    wheels = sorted(glob.glob(os.path.join(bundled, "pip-*.whl")))
    if not wheels:
        sys.exit("get_pip_offline: no pip wheel bundled with this Python under %s" % bundled)
    sys.path.insert(0, wheels[-1])
    from pip._internal.cli.main import main as pip_main  # pylint: disable=import-outside-toplevel
    # --no-setuptools / --no-wheel are get-pip.py's own options, not pip's.
    args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
    sys.exit(pip_main(["install", "--upgrade", "--force-reinstall"] + args))


if __name__ == "__main__":
    main()
