# The C example: built with warnings as errors, run by `make test`, and run
# again under ASan+UBSan.
C_DIR := cbindings/c
C_FLAGS := -std=c11 -O2 -g -Wall -Wextra -Werror -pedantic -Iinclude
C_LIBS := $(STATICLIB) -lpthread -ldl -lm

TEST_TARGETS += test-c
.PHONY: test-c

build/c/example: $(C_DIR)/example.c $(HEADER) lib
	@mkdir -p build/c
	$(CC) $(C_FLAGS) $< -o $@ $(C_LIBS)

build/c/example-asan: $(C_DIR)/example.c $(HEADER) lib
	@mkdir -p build/c
	$(CC) $(C_FLAGS) -fsanitize=address,undefined -fno-omit-frame-pointer $< -o $@ $(C_LIBS)

test-c: build/c/example build/c/example-asan
	./build/c/example
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 ./build/c/example-asan
