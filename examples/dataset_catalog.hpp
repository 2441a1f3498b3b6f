/// @file dataset_catalog.hpp
/// @brief The datasets a node holds, with the reference's metadata and its search / list filtering.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "fedbiomed/json.hpp"

namespace fbm_cli {

/// @brief A datasets file that cannot be used; the text names the file, the entry and the field.
class CatalogError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// @brief The datasets of one node, as the reference's DatasetManager keeps them (spec section 10).
///
/// Each entry is a JSON object with the reference's metadata fields: name, data_type, tags, description,
/// shape, path, dataset_id, dtypes, dataset_parameters. Entries keep the order of the file and the order
/// of their members. Immutable after loading, so it may be read from any thread.
class DatasetCatalog {
public:
    /// @brief The fields every entry must have.
    static const std::vector<std::string>& required_fields();

    /// @brief An empty catalogue (a node started without --datasets).
    DatasetCatalog() = default;

    /// @brief Checks and keeps @p entries (a JSON array of dataset objects); @p origin names them in
    /// errors. @throws CatalogError when an entry lacks a field, has one of the wrong type (name,
    /// data_type, description, path and dataset_id are strings, tags an array of strings,
    /// dataset_parameters an object or null) or repeats a dataset_id.
    static DatasetCatalog from_json(const fedbiomed::Json& entries, const std::string& origin);

    /// @brief Reads and checks the JSON file at @p path. @throws CatalogError (unreadable, not JSON, or
    /// as from_json()).
    static DatasetCatalog load_file(const std::string& path);

    /// @brief Number of datasets. @throws nothing.
    std::size_t size() const noexcept { return entries_.size(); }

    /// @brief Entries whose tags contain every tag of @p tags (all of them when @p tags is empty, as the
    /// reference's TinyDB query), without `path`: the `databases` of a search reply.
    /// @throws std::bad_alloc only.
    fedbiomed::Json search(const fedbiomed::Json& tags) const;

    /// @brief Every entry without `path` and `dtypes`: the `databases` of a list reply.
    /// @throws std::bad_alloc only.
    fedbiomed::Json list() const;

private:
    std::vector<fedbiomed::Json> entries_;
};

}  // namespace fbm_cli
