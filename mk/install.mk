# Installation: `make install PREFIX=/usr/local` (DESTDIR honoured) puts the
# Rust core's static and shared libraries, the C and C++ headers, the CMake
# package and the pkg-config file under the prefix. The shared library is the
# usual chain (shown for 0.1.0, whose SONAME is libtrackstats.so.0.1):
#   lib/libtrackstats.so.0.1.0               the file
#   lib/libtrackstats.so.0.1 -> .so.0.1.0    the SONAME: what executables load
#   lib/libtrackstats.so     -> .so.0.1      what -ltrackstats finds at link time
# The C++ suite's install test (cbindings/cpp/tests/install_test.sh) checks it.
TRACKSTATS_VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
INSTALL_PREFIX = $(abspath $(PREFIX))
INSTALL_LIB = $(DESTDIR)$(INSTALL_PREFIX)/lib
INSTALL_INCLUDE = $(DESTDIR)$(INSTALL_PREFIX)/include
PKG_DIR := cbindings/cpp/cmake

.PHONY: install

install: lib
	install -d $(INSTALL_LIB)/cmake/trackstats $(INSTALL_LIB)/pkgconfig $(INSTALL_INCLUDE)
	install -m 644 $(STATICLIB) $(INSTALL_LIB)/libtrackstats.a
	install -m 755 $(SHAREDLIB) $(INSTALL_LIB)/libtrackstats.so.$(TRACKSTATS_VERSION)
	ln -sfn libtrackstats.so.$(TRACKSTATS_VERSION) $(INSTALL_LIB)/$(SONAME)
	ln -sfn $(SONAME) $(INSTALL_LIB)/libtrackstats.so
	install -m 644 $(HEADER) cbindings/cpp/include/trackstats.hpp $(INSTALL_INCLUDE)/
	sed -e 's|@VERSION@|$(TRACKSTATS_VERSION)|g' -e 's|@SONAME@|$(SONAME)|g' $(PKG_DIR)/trackstatsConfig.cmake.in \
	  > $(INSTALL_LIB)/cmake/trackstats/trackstatsConfig.cmake
	sed -e 's|@VERSION@|$(TRACKSTATS_VERSION)|g' $(PKG_DIR)/trackstatsConfigVersion.cmake.in \
	  > $(INSTALL_LIB)/cmake/trackstats/trackstatsConfigVersion.cmake
	sed -e 's|@PREFIX@|$(INSTALL_PREFIX)|g' -e 's|@VERSION@|$(TRACKSTATS_VERSION)|g' $(PKG_DIR)/trackstats.pc.in \
	  > $(INSTALL_LIB)/pkgconfig/trackstats.pc
	@echo "installed trackstats $(TRACKSTATS_VERSION) ($(SONAME)) into $(DESTDIR)$(INSTALL_PREFIX)"
