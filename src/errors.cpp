// Error numbers: the table is generated from tests/data/conformance/errors.jsonl (the reference's own
// values), so every text is byte-exact, including FB315's trailing blank.
#include "fedbiomed/errors.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include "error_text.hpp"

namespace fedbiomed {
namespace {

struct ErrorEntry {
    ErrorNumbers code;
    std::string_view text;
};

constexpr std::array<ErrorEntry, 82> kErrorTable{{
    {ErrorNumbers::FB100, "FB100: undetermined messaging server error"},
    {ErrorNumbers::FB101, "FB101: cannot connect to the messaging server"},
    {ErrorNumbers::FB102, "FB102: messaging server does not answer in dedicated time"},
    {ErrorNumbers::FB103, "FB103: messaging call error"},
    {ErrorNumbers::FB104, "FB104: message exchange error"},
    {ErrorNumbers::FB200, "FB200: undetermined repository server error"},
    {ErrorNumbers::FB201, "FB201: server not reachable"},
    {ErrorNumbers::FB202, "FB202: server returns 404 error"},
    {ErrorNumbers::FB203, "FB203: server returns other 4xx or 500 error"},
    {ErrorNumbers::FB300, "FB300: undetermined node error"},
    {ErrorNumbers::FB301, "FB301: Protocol error"},
    {ErrorNumbers::FB302, "FB302: TrainingPlan class does not load"},
    {ErrorNumbers::FB303, "FB303: TrainingPlan class does not contain expected methods"},
    {ErrorNumbers::FB304, "FB304: TrainingPlan method crashes"},
    {ErrorNumbers::FB305, "FB305: TrainingPlan loops indefinitely"},
    {ErrorNumbers::FB306, "FB306: bad URL for TrainingPlan (.py)"},
    {ErrorNumbers::FB307, "FB307: bad URL for training params (.mpk)"},
    {ErrorNumbers::FB308, "FB308: bad training request (.json)"},
    {ErrorNumbers::FB309, "FB309: bad model params (.mpk)"},
    {ErrorNumbers::FB310, "FB310: bad data format"},
    {ErrorNumbers::FB311, "FB311: receiving a new computation request during a running computation"},
    {ErrorNumbers::FB312, "FB312: Node stopped in SIGTERM signal handler"},
    {ErrorNumbers::FB313, "FB313: no dataset matching request"},
    {ErrorNumbers::FB314, "FB314: Node round error"},
    {ErrorNumbers::FB315, "FB315: Error while loading the data "},
    {ErrorNumbers::FB316, "FB316: Data loading plan error"},
    {ErrorNumbers::FB317, "FB317: FLamby package import error"},
    {ErrorNumbers::FB318, "FB318: Secure aggregation setup error"},
    {ErrorNumbers::FB319, "FB319: Command not found error"},
    {ErrorNumbers::FB320, "FB320: bad model type"},
    {ErrorNumbers::FB321, "FB321: Secure aggregation delete error"},
    {ErrorNumbers::FB322, "FB322: Dataset registration error"},
    {ErrorNumbers::FB323, "FB323: Node State error"},
    {ErrorNumbers::FB400, "FB400: undetermined application error"},
    {ErrorNumbers::FB401, "FB401: aggregation crashes or returns an error"},
    {ErrorNumbers::FB402, "FB402: strategy method crashes or sends an error"},
    {ErrorNumbers::FB403, "FB403: bad URL (.pt) for model param"},
    {ErrorNumbers::FB404, "FB404: bad model param (.pt) format for TrainingPlan"},
    {ErrorNumbers::FB405, "FB405: received delayed answer for previous computation round"},
    {ErrorNumbers::FB406, "FB406: list of nodes is empty at data lookup phase"},
    {ErrorNumbers::FB407,
     "FB407: list of nodes became empty when training (all nodes failed training or did not answer)"},
    {ErrorNumbers::FB408, "FB408: training failed on node or node did not answer during training"},
    {ErrorNumbers::FB409, "FB409: node sent Status=Error during training"},
    {ErrorNumbers::FB410, "FB410: bad type or value for experiment argument"},
    {ErrorNumbers::FB411, "FB411: cannot train an experiment that is not fully defined"},
    {ErrorNumbers::FB412, "FB412: cannot do model checking for experiment"},
    {ErrorNumbers::FB413, "FB413: cannot save or load breakpoint for experiment"},
    {ErrorNumbers::FB414, "FB414: bad type or value for training arguments"},
    {ErrorNumbers::FB415, "FB415: secure aggregation handling error"},
    {ErrorNumbers::FB416, "FB416: federated dataset error"},
    {ErrorNumbers::FB417, "FB417: Secure aggregation error"},
    {ErrorNumbers::FB418, "FB418: Node state agent error"},
    {ErrorNumbers::FB500, "FB500: undetermined node error, detected by server"},
    {ErrorNumbers::FB501, "FB501: node not reachable"},
    {ErrorNumbers::FB600, "FB600: environ error"},
    {ErrorNumbers::FB601, "FB601: message error"},
    {ErrorNumbers::FB602, "FB602: logger error"},
    {ErrorNumbers::FB603, "FB603: task queue error"},
    {ErrorNumbers::FB604, "FB604: repository error"},
    {ErrorNumbers::FB605, "FB605: training plan error"},
    {ErrorNumbers::FB606, "FB606: model manager error"},
    {ErrorNumbers::FB607, "FB607: data manager error"},
    {ErrorNumbers::FB608, "FB608: torch data manager error"},
    {ErrorNumbers::FB609, "FB609: scikit-learn data manager error"},
    {ErrorNumbers::FB610, "FB610: Torch based tabular dataset creation error"},
    {ErrorNumbers::FB611, "FB611: Error while trying to evaluate using the specified metric"},
    {ErrorNumbers::FB612, "FB612: Torch based NIFTI dataset error"},
    {ErrorNumbers::FB613, "FB613: Medical Folder dataset error"},
    {ErrorNumbers::FB614, "FB614: data loading block error"},
    {ErrorNumbers::FB615, "FB615: data loading plan error"},
    {ErrorNumbers::FB616, "FB616: differential privacy controller error"},
    {ErrorNumbers::FB617, "FB617: FLamby dataset error"},
    {ErrorNumbers::FB618, "FB618: FLamby data transformation error"},
    {ErrorNumbers::FB619, "FB619: Certificate error"},
    {ErrorNumbers::FB620, "FB620: MPC protocol error"},
    {ErrorNumbers::FB621, "FB621: declearn optimizer error"},
    {ErrorNumbers::FB622, "FB622: Model error"},
    {ErrorNumbers::FB623, "FB623: Secure aggregation database error"},
    {ErrorNumbers::FB624, "FB624: Secure aggregation crypter error"},
    {ErrorNumbers::FB625, "FB625: Component version error"},
    {ErrorNumbers::FB626, "FB626: Fed-BioMed optimizer error"},
    {ErrorNumbers::FB999, "FB999: unknown error code sent by the node"},
}};

const ErrorEntry* find_entry(ErrorNumbers code) noexcept {
    for (const auto& entry : kErrorTable) {
        if (entry.code == code) {
            return &entry;
        }
    }
    return nullptr;
}

}  // namespace

namespace detail {

std::string with_code(ErrorNumbers code, const std::string& detail) {
    std::string what(error_text(code));
    if (!detail.empty()) {
        what += ": ";
        what += detail;
    }
    return what;
}

}  // namespace detail

std::string_view error_text(ErrorNumbers code) noexcept {
    const ErrorEntry* entry = find_entry(code);
    return entry != nullptr ? entry->text : std::string_view("FB999: unknown error code sent by the node");
}

std::string_view error_code(ErrorNumbers code) noexcept {
    const std::string_view text = error_text(code);
    return text.substr(0, text.find(':'));
}

std::optional<ErrorNumbers> error_from_text(std::string_view text) noexcept {
    for (const auto& entry : kErrorTable) {
        if (entry.text == text) {
            return entry.code;
        }
    }
    return std::nullopt;
}

std::optional<ErrorNumbers> error_from_code(std::string_view code) noexcept {
    for (const auto& entry : kErrorTable) {
        if (error_code(entry.code) == code) {
            return entry.code;
        }
    }
    return std::nullopt;
}

const std::vector<ErrorNumbers>& all_error_numbers() noexcept {
    static const std::vector<ErrorNumbers> all = [] {
        std::vector<ErrorNumbers> codes;
        codes.reserve(kErrorTable.size());
        for (const auto& entry : kErrorTable) {
            codes.push_back(entry.code);
        }
        return codes;
    }();
    return all;
}

FedbiomedError::FedbiomedError(ErrorNumbers code, const std::string& detail)
    : std::runtime_error(detail::with_code(code, detail)), code_(code), detail_(detail) {}

}  // namespace fedbiomed
