# ocirun: build, generate docs, install and package.
#
#   make                  static release binary + man pages + completions (target/dist)
#   make install PREFIX=/usr/local DESTDIR=
#   make deb              target/dist/ocirun_<version>_amd64.deb
#   make STATIC=0 ...     the same with a dynamically linked binary
#
# The static binary is a glibc static-pie (the only static target the toolchain has here);
# packaging/README.md has the measurements behind making it the default.

PREFIX      ?= /usr/local
DESTDIR     ?=
BINDIR      ?= $(PREFIX)/bin
DATADIR     ?= $(PREFIX)/share
MANDIR      ?= $(DATADIR)/man
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
ZSHCOMPDIR  ?= $(DATADIR)/zsh/site-functions
FISHCOMPDIR ?= $(DATADIR)/fish/vendor_completions.d

CARGO       ?= cargo
STATIC      ?= 1
TRIPLE      ?= x86_64-unknown-linux-gnu
TARGET_DIR  := $(or $(CARGO_TARGET_DIR),target)
DIST        := $(TARGET_DIR)/dist
# Dates the man pages by the last commit, so the same commit gives the same pages.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || date +%s)
export SOURCE_DATE_EPOCH

ifeq ($(STATIC),1)
BIN := $(TARGET_DIR)/$(TRIPLE)/release/ocirun
else
BIN := $(TARGET_DIR)/release/ocirun
endif

.PHONY: all build static dynamic docs install uninstall deb test-install test-deb

all: build docs

ifeq ($(STATIC),1)
build: static
else
build: dynamic
endif

# An explicit --target keeps crt-static off build scripts and proc macros, which must stay dynamic.
static:
	RUSTFLAGS="$(RUSTFLAGS) -C target-feature=+crt-static" $(CARGO) build --release --target $(TRIPLE) -p ocirun-cli
	@# A static-pie has a dynamic section (for its self-relocation) but no interpreter and no
	@# libraries: ldd says "statically linked" and lists nothing.
	@if ldd $(BIN) 2>&1 | grep -q '=>'; then echo "$(BIN) is not static:"; ldd $(BIN); exit 1; fi
	@file -b $(BIN) | grep static

dynamic:
	$(CARGO) build --release -p ocirun-cli

# Man pages and completions come from the clap definition through a tool the binary never links.
docs:
	$(CARGO) run -q -p ocirun-gen -- $(DIST) >/dev/null

install: all
	install -D -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/ocirun
	install -d $(DESTDIR)$(MANDIR)/man8
	install -m 0644 $(DIST)/man/*.8 $(DESTDIR)$(MANDIR)/man8/
	install -D -m 0644 $(DIST)/completions/ocirun $(DESTDIR)$(BASHCOMPDIR)/ocirun
	install -D -m 0644 $(DIST)/completions/_ocirun $(DESTDIR)$(ZSHCOMPDIR)/_ocirun
	install -D -m 0644 $(DIST)/completions/ocirun.fish $(DESTDIR)$(FISHCOMPDIR)/ocirun.fish

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/ocirun $(DESTDIR)$(MANDIR)/man8/ocirun.8 $(DESTDIR)$(MANDIR)/man8/ocirun-*.8
	rm -f $(DESTDIR)$(BASHCOMPDIR)/ocirun $(DESTDIR)$(ZSHCOMPDIR)/_ocirun $(DESTDIR)$(FISHCOMPDIR)/ocirun.fish

deb: all
	packaging/deb/build-deb.sh $(BIN) $(DIST)

test-install:
	packaging/tests/install.sh

test-deb:
	packaging/tests/deb.sh
