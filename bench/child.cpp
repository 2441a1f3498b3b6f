#include "child.hpp"

namespace fbm_bench {

Child launch(const std::vector<std::string>& argv, bool pipe_stdin, bool pipe_stdout,
             const std::string& stderr_path) {
    fbm_test::LaunchOptions options;
    options.search_path = true;
    options.stdin_from = pipe_stdin ? fbm_test::Redirect::pipe() : fbm_test::Redirect::null();
    options.stdout_to = pipe_stdout ? fbm_test::Redirect::pipe() : fbm_test::Redirect::inherit();
    options.stderr_to =
        stderr_path.empty() ? fbm_test::Redirect::inherit() : fbm_test::Redirect::file(stderr_path);
    Child child{Process(argv, options), LineReader()};
    child.out.reset(child.process.stdout_fd());
    return child;
}

}  // namespace fbm_bench
