# What `cmake --install` puts in place, and the Debian packages `cpack -G DEB`
# makes from it. Three components, one per package:
#   bin -> nettool         the program and its user documentation
#   lib -> libnettool0     libnettool.so.0 (the soname follows NT_SOVERSION)
#   dev -> libnettool-dev  headers, libnettool.so, libnettool.a, pkg-config,
#                          the CMake package, the API/ABI guides, examples
# Everything is relocatable: the pkg-config file and the CMake package find
# the prefix from their own place, so `cmake --install --prefix DIR` works.
include(CMakePackageConfigHelpers)

# Debian and its derivatives keep libraries in the multiarch folder
# (lib/x86_64-linux-gnu), under /usr as under /usr/local, and ld.so and
# pkg-config look there; GNUInstallDirs picks it only for the /usr prefix.
# nettool uses it whatever the prefix (-DNT_MULTIARCH_LIBDIR=OFF: plain lib;
# an explicit -DCMAKE_INSTALL_LIBDIR other than lib is always kept).
if(EXISTS /etc/debian_version AND CMAKE_LIBRARY_ARCHITECTURE)
  option(NT_MULTIARCH_LIBDIR "Install libraries in lib/<multiarch> (Debian)" ON)
  if(NT_MULTIARCH_LIBDIR AND CMAKE_INSTALL_LIBDIR STREQUAL "lib")
    set(CMAKE_INSTALL_LIBDIR lib/${CMAKE_LIBRARY_ARCHITECTURE})
  endif()
endif()

set(NT_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/nettool)
set(NT_DOC_DIR ${CMAKE_INSTALL_DATADIR}/doc/nettool)

install(TARGETS nettool RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT bin)
install(TARGETS nettool_shared EXPORT nettoolTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT lib NAMELINK_COMPONENT dev)
install(TARGETS nettool_static EXPORT nettoolStaticTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
install(DIRECTORY include/nettool DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev
        FILES_MATCHING PATTERN "*.h")
install(FILES ${PROJECT_BINARY_DIR}/include/nettool/version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/nettool COMPONENT dev)

# The CMake package: find_package(nettool [VERSION]) -> nettool::nettool,
# nettool::nettool_static. Versions compare as docs/ABI.md says: the same
# major version is compatible (SameMajorVersion), and while the major is 0
# each minor release is its own ABI, so 0.x only accepts 0.x.
install(EXPORT nettoolTargets NAMESPACE nettool:: DESTINATION ${NT_CMAKE_DIR}
        COMPONENT dev)
install(EXPORT nettoolStaticTargets NAMESPACE nettool:: DESTINATION ${NT_CMAKE_DIR}
        COMPONENT dev)
configure_package_config_file(cmake/nettoolConfig.cmake.in
  ${PROJECT_BINARY_DIR}/nettoolConfig.cmake INSTALL_DESTINATION ${NT_CMAKE_DIR})
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(NT_COMPAT SameMinorVersion)
else()
  set(NT_COMPAT SameMajorVersion)
endif()
write_basic_package_version_file(${PROJECT_BINARY_DIR}/nettoolConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY ${NT_COMPAT})
install(FILES ${PROJECT_BINARY_DIR}/nettoolConfig.cmake
              ${PROJECT_BINARY_DIR}/nettoolConfigVersion.cmake
        DESTINATION ${NT_CMAKE_DIR} COMPONENT dev)

# pkg-config: prefix relative to the .pc file's own directory.
file(RELATIVE_PATH NT_PC_RELPREFIX
     /nt-prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /nt-prefix)
configure_file(cmake/nettool.pc.in ${PROJECT_BINARY_DIR}/nettool.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/nettool.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)

# Documentation (OPTIONAL: a guide not written yet is skipped, not an error).
install(FILES README.md docs/EXIT-CODES.md DESTINATION ${NT_DOC_DIR} COMPONENT bin)
install(FILES docs/API.md docs/ABI.md docs/DESIGN.md DESTINATION ${NT_DOC_DIR}
        COMPONENT dev OPTIONAL)
install(DIRECTORY apps/examples/ DESTINATION ${NT_DOC_DIR}/examples COMPONENT dev
        FILES_MATCHING PATTERN "*.c" PATTERN "*.h" PATTERN "*.md" PATTERN "CMakeLists.txt")
# Man pages (generated in the build tree when scdoc is there: NT_MAN_PAGES,
# top-level CMakeLists.txt) and shell completions (completions/: they ask
# `nettool CMD --help` at completion time, so they follow the program).
if(NT_MAN_PAGES)
  install(FILES ${NT_MAN_PAGES} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT bin)
endif()
install(FILES completions/nettool.bash DESTINATION
        ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME nettool COMPONENT bin)
install(FILES completions/_nettool DESTINATION
        ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions COMPONENT bin)

# cpack -G DEB: one package per component.
set(CPACK_PACKAGE_NAME nettool)
set(CPACK_PACKAGE_VENDOR "nettool")
set(CPACK_PACKAGE_CONTACT "nettool maintainers <nettool@example.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "asynchronous networking toolkit")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_COMPONENTS_ALL bin lib dev)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_STRIP_FILES ON) # debug information stays in the build tree
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_BIN_PACKAGE_NAME nettool)
set(CPACK_DEBIAN_LIB_PACKAGE_NAME libnettool${NT_SOVERSION})
set(CPACK_DEBIAN_DEV_PACKAGE_NAME libnettool-dev)
set(CPACK_DEBIAN_BIN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_LIB_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(NT_DEB_LIB "libnettool${NT_SOVERSION} (= ${PROJECT_VERSION})")
# Dependencies on system libraries: dpkg-shlibdeps (Debian's dpkg-dev) reads
# them off the binaries, as debhelper would; libnettool itself is found in
# the build tree and named explicitly (it is not installed yet). The library
# package carries a shlibs file, so packages built against it get their
# dependency from dpkg-shlibdeps too. Without dpkg-shlibdeps: Debian 12's
# names, written by hand.
find_program(NT_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(NT_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${CMAKE_BINARY_DIR})
  set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
  set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
  set(CPACK_DEBIAN_BIN_PACKAGE_DEPENDS "${NT_DEB_LIB}")
  if(NT_OSSL_LAZY) # dlopen()ed, so not in the binaries' DT_NEEDED
    set(CPACK_DEBIAN_LIB_PACKAGE_DEPENDS "libssl3 (>= 3.0)")
  endif()
  if(NT_CARES_LAZY) # the same (the resolver)
    list(APPEND CPACK_DEBIAN_LIB_PACKAGE_DEPENDS "libc-ares2 (>= 1.18)")
  endif()
  if(NT_ZLIB_LAZY) # the same (COMPRESS DEFLATE, yEnc's CRC32)
    list(APPEND CPACK_DEBIAN_LIB_PACKAGE_DEPENDS "zlib1g (>= 1:1.2.3.4)")
  endif()
  if(NT_EXPAT_LAZY) # the same (NZB files)
    list(APPEND CPACK_DEBIAN_LIB_PACKAGE_DEPENDS "libexpat1 (>= 2.0)")
    string(REPLACE ";" ", " CPACK_DEBIAN_LIB_PACKAGE_DEPENDS "${CPACK_DEBIAN_LIB_PACKAGE_DEPENDS}")
  endif()
else()
  set(CPACK_DEBIAN_LIB_PACKAGE_DEPENDS "libc6 (>= 2.34), libc-ares2 (>= 1.18), libssl3 (>= 3.0), libexpat1 (>= 2.0)")
  set(CPACK_DEBIAN_BIN_PACKAGE_DEPENDS "${NT_DEB_LIB}, libc6 (>= 2.34), libc-ares2 (>= 1.18), libssl3 (>= 3.0)")
endif()
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "${NT_DEB_LIB}, libc-ares-dev, libssl-dev (>= 3.0)")
set(CPACK_COMPONENT_BIN_DESCRIPTION "command-line client/server for HTTP, FTP, NNTP and the timestamp service")
set(CPACK_COMPONENT_LIB_DESCRIPTION "nettool networking library (shared library)")
set(CPACK_COMPONENT_DEV_DESCRIPTION "nettool networking library (headers, static library, pkg-config, CMake package)")
include(CPack)
