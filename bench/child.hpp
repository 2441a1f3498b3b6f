// The processes of the benchmark: the launcher shared with the tests (tests/support/process.hpp, which
// kills every child when the bench dies, so Ctrl-C never leaves a broker or a client behind) and a line
// reader on the child's stdout.
#pragma once

#include <string>
#include <vector>

#include "line_reader.hpp"
#include "process.hpp"

namespace fbm_bench {

using fbm_test::Process;
using fbm_test::Usage;

/// A child process and the reader of its stdout, kept together: the reader's buffer may hold lines
/// already read from the pipe.
struct Child {
    Process process;
    LineReader out;
};

/// Starts @p argv (looked up in PATH) with pipes to its stdin and from its stdout when asked; stderr is
/// appended to @p stderr_path when given, else inherited. @throws std::runtime_error when it cannot start.
Child launch(const std::vector<std::string>& argv, bool pipe_stdin, bool pipe_stdout,
             const std::string& stderr_path = {});

}  // namespace fbm_bench
