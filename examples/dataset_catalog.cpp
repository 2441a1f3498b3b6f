#include "dataset_catalog.hpp"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

namespace fbm_cli {

using fedbiomed::Json;

namespace {

bool is_string_array(const Json& value) {
    return value.is_array() &&
           std::all_of(value.begin(), value.end(), [](const Json& item) { return item.is_string(); });
}

// Which JSON types a field accepts; fields not listed (shape, dtypes) are free-form, as the reference
// stores whatever its loaders computed (a list for CSV shapes, an object for medical folders).
std::string type_problem(const std::string& field, const Json& value) {
    static const std::set<std::string> string_fields = {"name", "data_type", "description", "path",
                                                        "dataset_id"};
    if (string_fields.count(field) != 0 && !value.is_string()) {
        return "must be a string";
    }
    if (field == "tags" && !is_string_array(value)) {
        return "must be an array of strings";
    }
    if (field == "dataset_parameters" && !value.is_object() && !value.is_null()) {
        return "must be an object or null";
    }
    return {};
}

}  // namespace

const std::vector<std::string>& DatasetCatalog::required_fields() {
    // The member order of the reference's DatasetManager entries.
    static const std::vector<std::string> fields = {"name",        "data_type", "tags",
                                                    "description", "shape",     "path",
                                                    "dataset_id",  "dtypes",    "dataset_parameters"};
    return fields;
}

DatasetCatalog DatasetCatalog::from_json(const Json& entries, const std::string& origin) {
    if (!entries.is_array()) {
        throw CatalogError(origin + ": expected a JSON array of dataset objects");
    }
    DatasetCatalog catalog;
    std::set<std::string> seen_ids;
    for (std::size_t index = 0; index < entries.size(); ++index) {
        const Json& entry = entries[index];
        const std::string where = origin + ": entry " + std::to_string(index);
        if (!entry.is_object()) {
            throw CatalogError(where + ": expected an object");
        }
        for (const std::string& field : required_fields()) {
            const auto found = entry.find(field);
            if (found == entry.end()) {
                throw CatalogError(where + ": missing field '" + field + "'");
            }
            const std::string problem = type_problem(field, *found);
            if (!problem.empty()) {
                throw CatalogError(where + ": field '" + field + "' " + problem);
            }
        }
        const std::string id = entry.at("dataset_id").get<std::string>();
        if (!seen_ids.insert(id).second) {
            throw CatalogError(where + ": dataset_id '" + id + "' is used twice");
        }
        catalog.entries_.push_back(entry);
    }
    return catalog;
}

DatasetCatalog DatasetCatalog::load_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw CatalogError(path + ": cannot open the datasets file");
    }
    std::ostringstream text;
    text << in.rdbuf();
    Json parsed;
    try {
        parsed = Json::parse(text.str());
    } catch (const Json::parse_error& e) {
        throw CatalogError(path + ": not valid JSON: " + e.what());
    }
    return from_json(parsed, path);
}

Json DatasetCatalog::search(const Json& tags) const {
    Json found = Json::array();
    if (!tags.is_array()) {
        return found;
    }
    for (const Json& entry : entries_) {
        const Json& have = entry.at("tags");
        const bool all_present = std::all_of(tags.begin(), tags.end(), [&have](const Json& wanted) {
            return std::find(have.begin(), have.end(), wanted) != have.end();
        });
        if (all_present) {
            Json copy = entry;
            copy.erase("path");
            found.push_back(std::move(copy));
        }
    }
    return found;
}

Json DatasetCatalog::list() const {
    Json all = Json::array();
    for (const Json& entry : entries_) {
        Json copy = entry;
        copy.erase("path");
        copy.erase("dtypes");
        all.push_back(std::move(copy));
    }
    return all;
}

}  // namespace fbm_cli
