# The TLS benchmark (tests/bench/tls_bench.sh runs it): included from the
# top-level CMakeLists.txt under NT_BUILD_BENCH, apart from the other
# benchmarks' tests/bench/CMakeLists.txt.
add_executable(tls_bench ${CMAKE_CURRENT_LIST_DIR}/tls_bench.c)
target_compile_options(tls_bench PRIVATE -Wall -Wextra -Werror)
target_link_libraries(tls_bench PRIVATE nettool_static)
