# Convenience wrapper around CMake for packagers and `make install`:
#   make                       build (Release) into $(BUILD)
#   make install               install under $(PREFIX) (default /usr/local), staged under $(DESTDIR)
#   make test                  the full test suite (scripts/test.sh, what CI runs)
#   make uninstall             remove what install wrote (from $(BUILD)/install_manifest.txt)
PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build-release
CMAKE ?= cmake

.PHONY: all install uninstall test clean

all: $(BUILD)/CMakeCache.txt
	$(CMAKE) --build $(BUILD) -j$$(nproc)

# configure once; an existing build directory keeps its own settings
$(BUILD)/CMakeCache.txt:
	$(CMAKE) -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=$(PREFIX)

install: all
	DESTDIR="$(DESTDIR)" $(CMAKE) --install $(BUILD) --prefix "$(PREFIX)"

uninstall:
	@test -f $(BUILD)/install_manifest.txt || { echo "nothing installed from $(BUILD)"; exit 1; }
	sed 's|^|$(DESTDIR)|' $(BUILD)/install_manifest.txt | xargs -r -d '\n' rm -f --

test:
	scripts/test.sh

clean:
	rm -rf $(BUILD)
