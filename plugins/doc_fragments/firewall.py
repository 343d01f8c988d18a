# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment(object):

    # Options every module on the firewall engine takes, and its action group.
    DOCUMENTATION = r"""
attributes:
  action_group:
    description: Use C(group/virtkit.host.engine) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - virtkit.host.engine
options:
  backend:
    description:
      - How rules reach the kernel.
      - V(auto) uses firewalld when it owns its name on the system bus, else nftables when
        C(nft) is installed, else iptables.
      - V(firewalld) talks to firewalld over DBus (never through C(firewall-cmd)).
    type: str
    choices: [auto, iptables, nftables, firewalld]
    default: auto
  batch:
    description:
      - Apply runs of rules as one C(iptables-restore --noflush) or C(nft -f) per table (one
        pipelined DBus exchange with firewalld). The outcome is the same as one command per
        rule, failures included; V(false) runs one command per rule.
    type: bool
    default: true
  confirm_timeout:
    description:
      - Arm a revert of the task's change on the host that fires after this many seconds unless
        the controller confirms the change over a new connection. The task's action plugin
        confirms it at once with M(virtkit.host.firewall_confirm); when no new connection gets
        through (the change cut the controller off), it waits for the revert and fails the
        task, saying that the change was reverted (RV(revert)).
      - The revert is the exact undo of what the task did (each addition deleted, each deletion
        put back at its place), not a restore of a saved ruleset, so other tools' changes made
        meanwhile stay. It runs in a detached process that outlives the task and its connection,
        under the host's firewall lock; it never fires after a confirmation.
      - While a revert is armed, every task of these modules on the host fails instead of
        stacking its change on it.
      - In check mode, RV(revert) says whether a revert would be armed. Unset, nothing is armed.
    type: int
    version_added: 0.1.0
notes:
  - Every command the module runs (or, in check mode, would run) is returned in RV(commands);
    with C(-vvv) the engine's trace of each command and each ignored error is returned in
    RV(trace).
  - A failure leaves the firewall as it was. Every change of the task, deletions included, has
    its undo recorded before it runs, and the whole task is rolled back. Should an undo itself
    fail, the task reports C(changed) and names what is left.
  - Runs on one host serialise on the lock C(/run/virtkit.host.firewall.lock), held from
    reading the state to applying the change (a run waits up to 300 seconds).
  - Names (chains, tables, interfaces) and rule words are checked strictly where they enter;
    see the collection's docs/security.md.
  - The modules on the engine (M(virtkit.host.firewall), M(virtkit.host.virt_network_firewall),
    M(virtkit.host.nwfilter_binding)) form the action group C(virtkit.host.engine), so a play
    sets O(backend) or O(batch) once, in C(module_defaults) under C(group/virtkit.host.engine)
    (for example O(backend=nftables)). M(virtkit.host.nwfilter_binding) takes no V(nftables)
    (its rules are libvirt's ebiptables ones); with that default, give its tasks their own
    O(backend).
seealso:
  - name: module_defaults and action groups
    description: Setting an option once for the modules of a group.
    link: https://docs.ansible.com/ansible/latest/playbook_guide/playbooks_module_defaults.html
requirements:
  - The firewall tools of the chosen backend on the managed host (C(iptables), C(ip6tables),
    C(ebtables), C(nft)); the Python library C(dbus-next) for firewalld.
  - Root, or the capabilities C(CAP_NET_ADMIN) and C(CAP_SYS_ADMIN) (the rules are compared in a
    scratch network namespace); a host that is a container must be given both.
"""
