"""A small local RPM repository, built with rpmbuild and createrepo_c, standing in for a
Fedora mirror: fedora-release (/etc/os-release), setup (/etc/passwd, /etc/shadow), and
busybox-init (a static busybox as /sbin/init, /bin/sh and /bin/cat) so a container can start."""

import os
import shutil
import subprocess

SPECS = {
    "fedora-release": ("/etc/os-release", """
mkdir -p %{buildroot}/etc
printf 'NAME=Fedora\\nID=fedora\\nVERSION_ID=40\\nPRETTY_NAME="Fedora 40 (virtkit test)"\\n' > %{buildroot}/etc/os-release
""", "/etc/os-release"),
    "setup": ("/etc/shadow", """
mkdir -p %{buildroot}/etc
printf 'root:x:0:0:root:/root:/bin/sh\\n' > %{buildroot}/etc/passwd
printf 'root:*:19000:0:99999:7:::\\n' > %{buildroot}/etc/shadow
chmod 0640 %{buildroot}/etc/shadow
""", "/etc/passwd\n%attr(0640,root,root) /etc/shadow"),
    "busybox-init": ("/sbin/init", """
mkdir -p %{buildroot}/bin %{buildroot}/sbin
cp /bin/busybox %{buildroot}/bin/busybox
ln -s busybox %{buildroot}/bin/sh
ln -s busybox %{buildroot}/bin/cat
ln -s busybox %{buildroot}/bin/sleep
ln -s ../bin/busybox %{buildroot}/sbin/init
""", "/bin/busybox\n/bin/sh\n/bin/cat\n/bin/sleep\n/sbin/init"),
}
TEMPLATE = """Name: {name}
Version: 1.0
Release: 1
Summary: virtkit test package {name}
License: GPL-3.0-or-later
BuildArch: noarch
AutoReq: no
%define _binaries_in_noarch_packages_terminate_build 0
AutoProv: yes

%description
Test package.

%install
{install}

%files
{files}
"""


def build(directory):
    """Build the repository under ``directory``; returns its file:// URL."""
    top = os.path.join(directory, "rpmbuild")
    repo = os.path.join(directory, "repo")
    os.makedirs(repo, exist_ok=True)
    for name, (_path, install, files) in SPECS.items():
        spec = os.path.join(directory, name + ".spec")
        with open(spec, "w") as handle:
            handle.write(TEMPLATE.format(name=name, install=install.strip(), files=files))
        subprocess.run(["rpmbuild", "--define", "_topdir " + top, "--define",
                        "_build_id_links none", "-bb", spec], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for dirpath, _dirs, names in os.walk(os.path.join(top, "RPMS")):
        for name in names:
            shutil.copy(os.path.join(dirpath, name), repo)
    subprocess.run(["createrepo_c", "-q", repo], check=True)
    return "file://" + repo
