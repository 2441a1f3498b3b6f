// The node's datasets: loading and checking, and the reference's search / list filtering.
#include "dataset_catalog.hpp"

#include <string>

#include <gtest/gtest.h>

namespace {

using fbm_cli::CatalogError;
using fbm_cli::DatasetCatalog;
using fedbiomed::Json;

Json entry(const std::string& id, Json tags) {
    return Json{{"name", "dataset " + id},
                {"data_type", "csv"},
                {"tags", std::move(tags)},
                {"description", "d"},
                {"shape", {10, 2}},
                {"path", "/data/" + id + ".csv"},
                {"dataset_id", id},
                {"dtypes", {"int64", "float64"}},
                {"dataset_parameters", nullptr}};
}

std::vector<std::string> ids(const Json& databases) {
    std::vector<std::string> result;
    for (const auto& database : databases) {
        result.push_back(database.at("dataset_id").get<std::string>());
    }
    return result;
}

DatasetCatalog sample() {
    return DatasetCatalog::from_json(
        Json::array({entry("d1", {"heart", "csv"}), entry("d2", {"heart"}), entry("d3", {"mri"})}), "test");
}

TEST(DatasetCatalog, SearchKeepsDatasetsHoldingEveryTagWithoutPath) {
    const DatasetCatalog catalog = sample();
    EXPECT_EQ(ids(catalog.search(Json{"heart"})), (std::vector<std::string>{"d1", "d2"}));
    EXPECT_EQ(ids(catalog.search(Json{"heart", "csv"})), (std::vector<std::string>{"d1"}));
    EXPECT_TRUE(catalog.search(Json{"heart", "mri"}).empty());
    EXPECT_TRUE(catalog.search(Json{"unknown"}).empty());

    const Json found = catalog.search(Json{"mri"});
    ASSERT_EQ(found.size(), 1U);
    EXPECT_FALSE(found[0].contains("path"));
    EXPECT_TRUE(found[0].contains("dtypes"));  // search replies keep dtypes, as the reference
}

TEST(DatasetCatalog, SearchWithNoTagMatchesEverything) {
    // The reference's TinyDB query `tags.all([])` is true for every entry.
    EXPECT_EQ(sample().search(Json::array()).size(), 3U);
}

TEST(DatasetCatalog, ListDropsPathAndDtypesAndKeepsMemberOrder) {
    const Json listed = sample().list();
    ASSERT_EQ(listed.size(), 3U);
    std::vector<std::string> keys;
    for (const auto& item : listed[0].items()) {
        keys.push_back(item.key());
    }
    EXPECT_EQ(keys, (std::vector<std::string>{"name", "data_type", "tags", "description", "shape",
                                              "dataset_id", "dataset_parameters"}));
}

TEST(DatasetCatalog, EmptyCatalogue) {
    const DatasetCatalog catalog;
    EXPECT_EQ(catalog.size(), 0U);
    EXPECT_TRUE(catalog.list().empty());
    EXPECT_TRUE(catalog.list().is_array());
    EXPECT_TRUE(catalog.search(Json::array()).empty());
}

TEST(DatasetCatalog, RejectsBadEntriesNamingThem) {
    Json missing = entry("d1", {"a"});
    missing.erase("dtypes");
    Json bad_tags = entry("d1", {"a", 1});
    Json bad_params = entry("d1", {"a"});
    bad_params["dataset_parameters"] = "x";
    const struct {
        Json entries;
        std::string expected;
    } cases[] = {
        {Json::object(), "f.json: expected a JSON array of dataset objects"},
        {Json::array({1}), "f.json: entry 0: expected an object"},
        {Json::array({missing}), "f.json: entry 0: missing field 'dtypes'"},
        {Json::array({bad_tags}), "f.json: entry 0: field 'tags' must be an array of strings"},
        {Json::array({bad_params}), "f.json: entry 0: field 'dataset_parameters' must be an object or null"},
        {Json::array({entry("d1", {"a"}), entry("d1", {"b"})}),
         "f.json: entry 1: dataset_id 'd1' is used twice"},
    };
    for (const auto& c : cases) {
        try {
            DatasetCatalog::from_json(c.entries, "f.json");
            ADD_FAILURE() << "accepted " << c.entries.dump();
        } catch (const CatalogError& e) {
            EXPECT_EQ(std::string(e.what()), c.expected);
        }
    }
}

TEST(DatasetCatalog, LoadFileReportsUnreadableAndInvalidFiles) {
    EXPECT_THROW(DatasetCatalog::load_file("/nonexistent/datasets.json"), CatalogError);
    EXPECT_THROW(DatasetCatalog::load_file(FBM_PROGRAM_TESTS_DIR "/dataset_catalog_test.cpp"), CatalogError);
}

TEST(DatasetCatalog, TheDemoSampleFilesAreValid) {
    for (const char* name : {"hospital_a.json", "hospital_b.json", "hospital_c.json"}) {
        const DatasetCatalog catalog =
            DatasetCatalog::load_file(std::string(FBM_EXAMPLES_DATA_DIR) + "/" + name);
        EXPECT_EQ(catalog.size(), 2U) << name;
    }
}

}  // namespace
