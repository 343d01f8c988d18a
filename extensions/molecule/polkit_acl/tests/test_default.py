"""The converged container: rules file in place, checked by acorn, libvirtd switched to polkit."""


def test_rules_file(host):
    rules = host.file("/etc/polkit-1/rules.d/50-virtkit-libvirt-acl.rules")
    assert rules.exists and rules.user == "root" and rules.mode == 0o644
    assert 'action.id == "org.libvirt.api.domain.getattr"' in rules.content_string
    assert 'action.lookup("domain_name") == "demo"' in rules.content_string
    assert host.run("acorn --ecma5 --silent %s" % rules.path).rc == 0


def test_access_driver(host):
    config = host.file("/etc/libvirt/libvirtd.conf").content_string
    assert 'access_drivers = [ "polkit" ]' in config.splitlines()
