# The C example: built with warnings as errors, run by `make test`, and run
# again under ASan+UBSan. test-c-abi checks the shared library's surface:
# exported symbols, SONAME and version macros (cbindings/c/abi_check.sh).
C_DIR := cbindings/c
C_FLAGS := -std=c11 -O2 -g -Wall -Wextra -Werror -pedantic -Iinclude
C_LIBS := $(STATICLIB) -lpthread -ldl -lm

TEST_TARGETS += test-c
.PHONY: test-c test-c-abi

build/c/example: $(C_DIR)/example.c $(HEADER) lib
	@mkdir -p build/c
	$(CC) $(C_FLAGS) $< -o $@ $(C_LIBS)

build/c/example-asan: $(C_DIR)/example.c $(HEADER) lib
	@mkdir -p build/c
	$(CC) $(C_FLAGS) -fsanitize=address,undefined -fno-omit-frame-pointer $< -o $@ $(C_LIBS)

# Linked against the build tree's shared library, found at run time by its
# SONAME link next to it (see `lib`).
build/c/version_check: $(C_DIR)/version_check.c $(HEADER) lib
	@mkdir -p build/c
	$(CC) $(C_FLAGS) $< -o $@ -L$(LIB_DIR) -ltrackstats -Wl,-rpath,$(LIB_DIR)

test-c: build/c/example build/c/example-asan test-c-abi
	./build/c/example
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 ./build/c/example-asan

test-c-abi: build/c/version_check
	$(C_DIR)/abi_check.sh $(SHAREDLIB) $(HEADER) build/c/version_check
