#!/usr/bin/python
# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: lxc_bootstrap
short_description: Populate a container root with the OS's package manager and define its libvirt LXC domain
version_added: 0.1.0
description:
  - One task instead of the four manual steps of running an OS in a libvirt LXC container
    ("virt-bootstrap"). O(osid) (an osinfo short id such as V(fedora19), V(centos-stream9),
    V(debian11)) is looked up in the host's osinfo database, which gives the distribution,
    version, codename and install tree.
  - The root is populated with C(dnf) or C(yum) C(--installroot) (Fedora, RHEL, CentOS, Rocky,
    AlmaLinux; every other repository disabled) or with C(debootstrap) (Debian, Ubuntu; the
    codename is the suite). Then C(pts/0) is added to the root's C(/etc/securetty), root's
    password hash is set in its C(/etc/shadow), and the LXC domain is defined (and started)
    through libvirt-python.
  - Idempotent; check mode reports the packages it would install, the lines it would add and
    the domain settings it would change.
  - A new root is populated in a fresh directory beside it and renamed into place only when
    complete, with a creation record beside it (C(PARENT/.NAME.virtkit-bootstrap)); a failed
    run leaves no root behind. An existing root is populated in place and never removed by a
    failure (the error says whether the package manager changed it).
  - Files inside the root (C(/etc/securetty), C(/etc/shadow)) are reached as the container sees
    them (symbolic links resolved inside the root, never outside it; openat2 RESOLVE_IN_ROOT)
    and replaced atomically, mode and owner kept.
  - The P(virtkit.host.lxc_guest#role) role runs this module for a list of containers per host.
options:
  name:
    description:
      - The domain's name, 1-128 of letters, digits and C(_.+:-), not starting with C(.) or
        C(-).
    type: str
    required: true
  root:
    description:
      - The container's root directory, an absolute normalised path (default
        C(ROOT_BASE/NAME)).
    type: path
  root_base:
    description:
      - The directory holding container roots. O(remove_root) removes only a root strictly
        inside it.
    type: path
    default: /var/lib/libvirt/filesystems
  osid:
    description: osinfo short id of the OS to install; required to populate the root.
    type: str
  packages:
    description:
      - Packages to install. Default for Fedora, the article's set (systemd passwd yum
        fedora-release vim-minimal openssh-server procps-ng); for debootstrap, extra packages
        (its C(--include)).
    type: list
    elements: str
  repos:
    description:
      - Repositories for dnf/yum (mirrors, air-gapped fleets). Default, the osinfo install tree.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The repository's name (letters, digits, C(_.-), not starting with C(.) or C(-)).
        type: str
        required: true
      baseurl:
        description: Its URL (C(http), C(https), C(ftp) or C(file); no space or comma).
        type: str
        required: true
  releasever:
    description: dnf/yum's C(--releasever); default, the osinfo version.
    type: str
  installer:
    description: Force C(dnf) or C(yum) for RPM distributions (default after the version).
    type: str
    choices: [dnf, yum]
  nogpgcheck:
    description: Pass C(--nogpgcheck) to dnf/yum.
    type: bool
    default: false
  mirror:
    description: Mirror URL for debootstrap (required for Debian and Ubuntu).
    type: str
  suite:
    description: debootstrap's suite, instead of the osinfo codename (for example V(stable)).
    type: str
  variant:
    description: debootstrap's C(--variant).
    type: str
    default: minbase
  securetty:
    description: Add C(pts/0) (the LXC console) to the root's C(/etc/securetty).
    type: bool
    default: true
  root_password:
    description:
      - root's password, hashed with SHA-512 crypt before it is written. A rerun compares it
        with the current SHA-512 hash (C(rounds=) understood); a hash with more than 1000000
        rounds is not compared (that could take many minutes) and is replaced.
    type: str
  root_password_hash:
    description: root's password as a crypt hash, written as it is (no C(:), no line break).
    type: str
  memory:
    description: Memory in MiB.
    type: int
    default: 800
  vcpus:
    description: Virtual CPUs.
    type: int
    default: 1
  network:
    description: A libvirt network for the container's interface; without it the container gets a private network namespace with no interface.
    type: str
  init:
    description: The container's init.
    type: str
    default: /sbin/init
  idmap:
    description: User namespace mapping of the container's root (user and group 0 and up).
    type: dict
    suboptions:
      uid_target:
        description: The host uid the container's uid 0 maps to (0 to 4294967295).
        type: int
        required: true
      gid_target:
        description: The host gid the container's gid 0 maps to (0 to 4294967295).
        type: int
        required: true
      count:
        description: How many ids are mapped (1 or more).
        type: int
        required: true
  uri:
    description: libvirt connection URI.
    type: str
    default: lxc:///system
  state:
    description: V(defined), V(running) (defined and started) or V(absent) (undefined).
    type: str
    choices: [defined, running, absent]
    default: running
  remove_root:
    description:
      - With O(state=absent), also delete the root directory, only when this module created it
        (its creation record is there and names this container and directory), it lies inside
        O(root_base), and nothing is mounted on or under it; otherwise the task fails before
        changing anything. The removal follows no symbolic link and enters no other file
        system.
    type: bool
    default: false
requirements:
  - The Python library C(libvirt-python); C(osinfo-db); C(dnf) or C(yum) with C(rpm), or C(debootstrap).
seealso:
  - name: The lxc_guest role
    description: The role P(virtkit.host.lxc_guest#role) runs this module for a list of containers per host.
    link: https://github.com/virtkit/virtkit.host/blob/main/docs/docsite/rst/guide_role_lxc_guest.rst
  - name: libvirt's LXC driver
    description: The containers this module defines, their idmap and console.
    link: https://libvirt.org/drvlxc.html
extends_documentation_fragment:
  - virtkit.host.attributes
author:
  - virtkit.host contributors (@virtkit)
"""

EXAMPLES = r"""
- name: The article's container, in one task
  virtkit.host.lxc_bootstrap:
    name: mycontainer
    osid: fedora19
    memory: 800
    nogpgcheck: true
    root_password: "{{ vault_container_root_password }}"

- name: A Debian container from our mirror, user namespace mapped
  virtkit.host.lxc_bootstrap:
    name: web1
    osid: debian11
    mirror: "{{ debian_mirror }}"
    packages: [systemd-sysv, openssh-server]
    network: default
    idmap: {uid_target: 100000, gid_target: 100000, count: 65536}

- name: Gone, root directory included
  virtkit.host.lxc_bootstrap:
    name: web1
    state: absent
    remove_root: true
"""

RETURN = r"""
changes:
  description: What was done (in check mode, would be done), in order.
  returned: always
  type: list
  elements: str
  sample: ["install fedora-release, setup into /var/lib/libvirt/filesystems/demo", "add pts/0 to /etc/securetty", "define domain demo", "start domain demo"]
os:
  description: What the osinfo database says of O(osid).
  returned: when osid is given
  type: dict
  sample: {short_id: fedora36, name: Fedora Linux 36, distro: fedora, version: "36", codename: null, installer: dnf}
  contains:
    short_id:
      description: The osinfo short id.
      returned: always
      type: str
    name:
      description: The OS's name.
      returned: always
      type: str
    distro:
      description: The distribution.
      returned: always
      type: str
    version:
      description: Its version (dnf's default C(--releasever)).
      returned: always
      type: str
    codename:
      description: Its codename (debootstrap's default suite), null when it has none.
      returned: always
      type: str
    installer:
      description: What populates the root.
      returned: always
      type: str
      choices: [dnf, yum, debootstrap]
uuid:
  description: The domain's UUID.
  returned: when the domain exists
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.virtkit.host.plugins.module_utils import _vocabulary as vocabulary
from ansible_collections.virtkit.host.plugins.module_utils._bootstrap.container import (
    Container,
    check_params,
)
from ansible_collections.virtkit.host.plugins.module_utils._bootstrap.domain import DomainError
from ansible_collections.virtkit.host.plugins.module_utils._bootstrap.inroot import RootPathError
from ansible_collections.virtkit.host.plugins.module_utils._bootstrap.osinfo import (
    OsinfoDb,
    OsinfoError,
)
from ansible_collections.virtkit.host.plugins.module_utils._bootstrap.populate import (
    PopulateError,
)
from ansible_collections.virtkit.host.plugins.module_utils._bootstrap.rootdir import RootDirError
from ansible_collections.virtkit.host.plugins.module_utils._bootstrap.rootfs import ShadowError
from ansible_collections.virtkit.host.plugins.module_utils._module_support import (
    failing_on,
    require_library,
)

try:
    import libvirt
except ImportError:
    libvirt = None


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            root=dict(type="path"),
            root_base=dict(type="path", default="/var/lib/libvirt/filesystems"),
            osid=dict(type="str"),
            packages=dict(type="list", elements="str"),
            repos=dict(type="list", elements="dict", default=[], options=dict(
                name=dict(type="str", required=True),
                baseurl=dict(type="str", required=True),
            )),
            releasever=dict(type="str"),
            installer=dict(type="str", choices=["dnf", "yum"]),
            nogpgcheck=dict(type="bool", default=False),
            mirror=dict(type="str"),
            suite=dict(type="str"),
            variant=dict(type="str", default="minbase"),
            securetty=dict(type="bool", default=True),
            root_password=dict(type="str", no_log=True),
            root_password_hash=dict(type="str", no_log=True),
            memory=dict(type="int", default=800),
            vcpus=dict(type="int", default=1),
            network=dict(type="str"),
            init=dict(type="str", default="/sbin/init"),
            idmap=dict(type="dict", options=dict(
                uid_target=dict(type="int", required=True),
                gid_target=dict(type="int", required=True),
                count=dict(type="int", required=True),
            )),
            uri=dict(type="str", default="lxc:///system"),
            state=dict(type="str", default="running", choices=["defined", "running", "absent"]),
            remove_root=dict(type="bool", default=False),
        ),
        mutually_exclusive=[("root_password", "root_password_hash")],
        supports_check_mode=True,
    )
    params = module.params
    result = dict(changed=False, changes=[])
    require_library(module, libvirt is not None, "libvirt-python", "lxc_bootstrap", result)
    with failing_on(module, (OsinfoError, PopulateError, DomainError, vocabulary.InvalidValue,
                             RootPathError, RootDirError, ShadowError, OSError), result):
        check_params(params)
        os_info = None
        if params["state"] != "absent" and params["osid"]:
            os_info = OsinfoDb().lookup(params["osid"])
            os_info.installer  # pylint: disable=pointless-statement  # unsupported: an error now
            result["os"] = dict(short_id=os_info.short_id, name=os_info.name,
                                distro=os_info.distro, version=os_info.version,
                                codename=os_info.codename, installer=os_info.installer)
        container = Container(params, os_info, libvirt, check_mode=module.check_mode)
        if params["state"] == "absent":
            container.remove()
        else:
            if os_info is not None:
                container.populate()
            container.login()
            result["uuid"] = container.domain()
    result["changes"] = container.changes
    result["changed"] = bool(container.changes)
    if module._diff:  # pylint: disable=protected-access
        result["diff"] = container.diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
