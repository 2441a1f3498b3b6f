// The processes a workload is made of. The orchestrator (`fbm-bench run`) starts this same executable in
// a role; each role prints "READY" once connected and subscribed, waits for "GO" on stdin when it has
// something to start, and ends with one line "RESULT <json>".
#pragma once

#include <map>
#include <string>
#include <vector>

namespace fbm_bench {

/// `--key value` options (and bare `--flag`s, stored as "1").
class Args {
public:
    Args(int argc, char** argv, int first);

    bool has(const std::string& key) const { return values_.count(key) != 0; }
    std::string get(const std::string& key, const std::string& fallback = {}) const;
    long long get_int(const std::string& key, long long fallback) const;
    double get_double(const std::string& key, double fallback) const;

private:
    std::map<std::string, std::string> values_;
};

/// pub: a node streaming --count messages of --kind; sub: a researcher counting them;
/// node: answers pings with pongs; researcher: pings --nodes nodes per round, --rounds times.
int run_role(const std::string& role, const Args& args);

}  // namespace fbm_bench
