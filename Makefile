# virtkit.host: `make demo` and `make test` set up everything they need on a fresh Debian 12
# machine (apt packages, a pinned venv under build/) and are safe to run again.
SHELL := /bin/bash
PYTHON ?= python3
BUILD := build
VENV := $(BUILD)/venv
COLLECTIONS := $(CURDIR)/$(BUILD)/collections
COLLECTION_LINK := $(COLLECTIONS)/ansible_collections/virtkit/host
PYTEST_ARGS ?=

# Debian packages: the firewall tools, firewalld on a private bus, libvirt's nwfilter driver
# (the tests' oracle and the built-in filters), polkitd and acorn for the ACL tests, podman and
# debootstrap for the Molecule scenarios, and sanity's shellcheck.
APT_PACKAGES := iptables nftables ebtables iproute2 dbus firewalld python3-firewall shellcheck \
	libvirt-daemon libvirt-daemon-config-nwfilter libvirt-clients polkitd pkexec node-acorn nodejs \
	podman crun fuse-overlayfs slirp4netns uidmap debootstrap osinfo-db libxml2-utils \
	libvirt-daemon-driver-lxc libvirt-dev pkg-config gcc dnf rpm createrepo-c busybox-static \
	openssh-server dnsmasq-base

export PYTHONPATH := $(COLLECTIONS)
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)

.PHONY: all deps compat lint docs-lint fragments test unit units-ansible-test integration sanity molecule demo engine-demo bench ee clean

all: test

$(BUILD)/apt.stamp: hacking/apt-install.sh Makefile
	@mkdir -p $(BUILD)
	hacking/apt-install.sh $(APT_PACKAGES)
	@touch $@

$(VENV)/stamp: requirements-dev.txt
	@[ -x $(VENV)/bin/python ] || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
	@touch $@

# The oldest supported ansible-core, for the release tests.
$(BUILD)/venv-oldest/stamp: requirements-oldest.txt
	@[ -x $(BUILD)/venv-oldest/bin/python ] || $(PYTHON) -m venv $(BUILD)/venv-oldest
	$(BUILD)/venv-oldest/bin/pip install -q --disable-pip-version-check -r requirements-oldest.txt
	@touch $@

# Molecule with the podman driver, for the roles' scenarios.
$(BUILD)/venv-molecule/stamp: requirements-molecule.txt
	@[ -x $(BUILD)/venv-molecule/bin/python ] || $(PYTHON) -m venv $(BUILD)/venv-molecule
	$(BUILD)/venv-molecule/bin/pip install -q --disable-pip-version-check -r requirements-molecule.txt
	@touch $@

# antsibull-docs, for the docsite lint.
$(BUILD)/venv-docs/stamp: requirements-docs.txt
	@[ -x $(BUILD)/venv-docs/bin/python ] || $(PYTHON) -m venv $(BUILD)/venv-docs
	$(BUILD)/venv-docs/bin/pip install -q --disable-pip-version-check -r requirements-docs.txt
	@touch $@

# The oldest target Python (3.8): Debian 12 has none; this machine kind's pyenv does.
PYTHON38 ?= $(firstword $(wildcard /root/.pyenv/versions/3.8.*/bin/python3.8) $(shell command -v python3.8))
$(BUILD)/venv-py38/stamp: requirements-py38.txt
	@if [ -z "$(PYTHON38)" ]; then \
	  echo "no Python 3.8 interpreter found (set PYTHON38=/path/to/python3.8)"; \
	  if [ "$$CI" = true ]; then exit 1; fi; \
	else \
	  { [ -x $(BUILD)/venv-py38/bin/python ] || $(PYTHON38) -m venv $(BUILD)/venv-py38; } && \
	  $(BUILD)/venv-py38/bin/pip install -q --disable-pip-version-check -r requirements-py38.txt && \
	  touch $@; \
	fi

# A managed host's Python as it comes: Debian's python3, none of the collection's libraries.
$(BUILD)/target-bare/stamp: $(BUILD)/apt.stamp
	@[ -x $(BUILD)/target-bare/bin/python ] || /usr/bin/python3 -m venv --without-pip $(BUILD)/target-bare
	@touch $@

# libvirt's polkit action definitions (org.libvirt.api.policy) for the tests' private polkitd,
# taken from the libvirt-daemon-system package without installing it (its scripts would start
# services on this machine).
POLKIT_ACTIONS := $(BUILD)/polkit-actions/org.libvirt.api.policy
$(POLKIT_ACTIONS): $(BUILD)/apt.stamp
	rm -rf $(BUILD)/libvirt-deb && mkdir -p $(BUILD)/libvirt-deb $(dir $@)
	cd $(BUILD)/libvirt-deb && apt-get download -q libvirt-daemon-system
	dpkg-deb -x $(BUILD)/libvirt-deb/libvirt-daemon-system_*.deb $(BUILD)/libvirt-deb/root
	cp $(BUILD)/libvirt-deb/root/usr/share/polkit-1/actions/org.libvirt.api.policy $@

# The checkout, seen as ansible_collections/virtkit/host (how Ansible and module imports find it).
$(COLLECTION_LINK):
	@mkdir -p $(dir $@)
	ln -sfn $(CURDIR) $@

deps: $(BUILD)/apt.stamp $(VENV)/stamp $(BUILD)/venv-oldest/stamp $(BUILD)/target-bare/stamp \
	$(BUILD)/venv-molecule/stamp $(BUILD)/venv-py38/stamp $(BUILD)/venv-docs/stamp $(POLKIT_ACTIONS) \
	$(COLLECTION_LINK)

unit: deps
	$(VENV)/bin/pytest -q tests/unit $(PYTEST_ARGS)
	hacking/ansible-test-units.sh $(VENV) --python 3.11

# ansible-test units on both Pythons (3.8: a managed host's oldest).
units-ansible-test: deps
	PYTHON38=$(PYTHON38) hacking/ansible-test-units.sh $(VENV) --python 3.11
	@if [ -n "$(PYTHON38)" ]; then PYTHON38=$(PYTHON38) hacking/ansible-test-units.sh $(VENV) --python 3.8; fi

integration: deps
	$(VENV)/bin/pytest -q tests/integration $(PYTEST_ARGS)
	hacking/ansible-test-integration.sh $(VENV)

sanity: deps
	hacking/sanity.sh $(VENV) --python 3.11

# ansible-lint's production profile over the roles, the playbooks and the Molecule scenarios.
lint: deps
	HOME=$(CURDIR)/$(BUILD)/lint-home $(BUILD)/venv-molecule/bin/ansible-lint --profile production --offline roles playbooks extensions/molecule

molecule: deps
	$(VENV)/bin/pytest -q tests/integration/test_molecule.py $(PYTEST_ARGS)

# Code that runs on managed hosts must work on their oldest Python (3.8): checked statically,
# and the unit tests run on a real 3.8 (the release tests run the modules on it too).
compat: deps
	$(VENV)/bin/vermin --no-tips --violations -t=3.8- plugins/
	@if [ -x $(BUILD)/venv-py38/bin/python ]; then \
	  PYTHONPATH=$(COLLECTIONS):$(CURDIR)/tests/support $(BUILD)/venv-py38/bin/python -m pytest -q \
	    -p no:cacheprovider tests/unit; \
	else echo "unit tests on Python 3.8 skipped: no Python 3.8 interpreter"; fi

# The docsite (docs/docsite) and every plugin's documentation, as antsibull-docs reads them.
docs-lint: $(BUILD)/venv-docs/stamp $(COLLECTION_LINK)
	cd $(COLLECTION_LINK) && PATH=$(CURDIR)/$(BUILD)/venv-docs/bin:$$PATH \
	  $(CURDIR)/$(BUILD)/venv-docs/bin/antsibull-docs lint-collection-docs --plugin-docs \
	  --check-extra-docs-refs .

# A change to plugins/, roles/, playbooks/ or meta/ since the last release carries a fragment.
fragments:
	hacking/check-fragments.sh

test: deps compat lint docs-lint fragments
	$(VENV)/bin/pytest -q tests/unit tests/integration $(PYTEST_ARGS)
	hacking/ansible-test-units.sh $(VENV) --python 3.11
	hacking/ansible-test-integration.sh $(VENV)
	hacking/sanity.sh $(VENV) --python 3.11

# site.yml on a local fleet of libvirt hosts (podman containers): check mode, apply, apply again.
# HOSTS=N: N hosts (kvm4 and up with kvm3's settings).
demo: $(BUILD)/apt.stamp $(VENV)/stamp $(COLLECTION_LINK)
	HOSTS=$(HOSTS) $(VENV)/bin/python hacking/podman_fleet.py demo

# The firewall engine alone, in a throwaway network namespace, showing every command.
engine-demo: $(BUILD)/apt.stamp $(VENV)/stamp $(COLLECTION_LINK)
	$(VENV)/bin/python hacking/engine_demo.py

# The alternatives the firewalld benchmark measures against: ansible.posix.firewalld (the
# community package) and dbus-fast (on the newest and the oldest target Python).
$(BUILD)/venv-bench-posix/stamp: benchmarks/requirements-posix.txt
	@[ -x $(BUILD)/venv-bench-posix/bin/python ] || $(PYTHON) -m venv $(BUILD)/venv-bench-posix
	$(BUILD)/venv-bench-posix/bin/pip install -q --disable-pip-version-check -r $<
	@touch $@

$(BUILD)/venv-bench-dbusfast/stamp: benchmarks/requirements-dbusfast.txt
	@[ -x $(BUILD)/venv-bench-dbusfast/bin/python ] || $(PYTHON) -m venv $(BUILD)/venv-bench-dbusfast
	$(BUILD)/venv-bench-dbusfast/bin/pip install -q --disable-pip-version-check -r $<
	@touch $@

$(BUILD)/venv-bench-dbusfast38/stamp: benchmarks/requirements-dbusfast.txt
	@if [ -n "$(PYTHON38)" ]; then \
	  { [ -x $(BUILD)/venv-bench-dbusfast38/bin/python ] || $(PYTHON38) -m venv $(BUILD)/venv-bench-dbusfast38; } && \
	  $(BUILD)/venv-bench-dbusfast38/bin/pip install -q --disable-pip-version-check -r $< && \
	  touch $@; \
	fi

bench: deps $(BUILD)/venv-bench-posix/stamp $(BUILD)/venv-bench-dbusfast/stamp \
	$(BUILD)/venv-bench-dbusfast38/stamp
	$(VENV)/bin/python benchmarks/firewall_apply.py
	$(VENV)/bin/python benchmarks/virt_networks.py
	$(VENV)/bin/python benchmarks/nwfilter.py
	$(VENV)/bin/python benchmarks/firewalld.py
	$(VENV)/bin/python benchmarks/confirm.py
	$(VENV)/bin/python benchmarks/fleet.py --hosts 3,10,25 --connections fleet_podman,containers.podman

# The execution environment (meta/execution-environment.yml) built with ansible-builder on a
# locally built Debian 12 base image, then checked inside: ansible-doc of every module and
# site.yml in check mode (hacking/ee.sh).
ee: $(BUILD)/apt.stamp
	hacking/ee.sh

clean:
	rm -rf $(BUILD) tests/output
