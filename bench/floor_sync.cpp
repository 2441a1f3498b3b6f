// fbm-floor-sync: the cost floor of Paho C's synchronous client (MQTTClient, in the same Paho C 1.3
// package), which writes a publication on the caller's thread instead of handing it to a send thread: one
// process publishes COUNT copies of a SIZE-byte payload at QOS (no JSON, no subscriber). A background
// thread of Paho handles the acknowledgements (callbacks are set).
//
//   fbm-floor-sync PORT COUNT QOS SIZE   ->   RESULT {"msgs_per_s": ..., "cpu_s": ..., ...}
//
// Linked against libpaho-mqtt3c only: its internal symbols clash with the asynchronous library's.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include <MQTTClient.h>
#include <sys/resource.h>

namespace {

std::atomic<long> g_acknowledged{0};

void on_lost(void* /*context*/, char* /*cause*/) {}

int on_arrived(void* /*context*/, char* topic, int /*length*/, MQTTClient_message* message) {
    MQTTClient_freeMessage(&message);
    MQTTClient_free(topic);
    return 1;
}

void on_delivered(void* /*context*/, MQTTClient_deliveryToken /*token*/) {
    g_acknowledged.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 5) {
        std::fprintf(stderr, "usage: fbm-floor-sync PORT COUNT QOS SIZE\n");
        return 2;
    }
    const std::string uri = std::string("tcp://127.0.0.1:") + argv[1];
    const long count = std::atol(argv[2]);
    const int qos = std::atoi(argv[3]);
    const std::string payload(static_cast<std::size_t>(std::atol(argv[4])), 'x');

    MQTTClient client = nullptr;
    if (MQTTClient_create(&client, uri.c_str(), "fbm-floor-sync", MQTTCLIENT_PERSISTENCE_NONE, nullptr) !=
        MQTTCLIENT_SUCCESS) {
        return 1;
    }
    MQTTClient_setCallbacks(client, nullptr, on_lost, on_arrived, on_delivered);
    MQTTClient_connectOptions options = MQTTClient_connectOptions_initializer;
    options.MQTTVersion = MQTTVERSION_3_1_1;
    options.cleansession = 1;
    options.maxInflightMessages = 65535;
    if (MQTTClient_connect(client, &options) != MQTTCLIENT_SUCCESS) {
        return 1;
    }
    const auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < count; ++i) {
        MQTTClient_deliveryToken token = 0;
        if (MQTTClient_publish(client, "general/researcher", static_cast<int>(payload.size()), payload.data(),
                               qos, 0, &token) != MQTTCLIENT_SUCCESS) {
            std::fprintf(stderr, "fbm-floor-sync: publication %ld refused\n", i);
            return 1;
        }
    }
    if (qos > 0) {
        // The acknowledgements arrive on Paho's thread through a callback without a waitable handle: poll.
        while (g_acknowledged.load(std::memory_order_relaxed) < count) {
            std::this_thread::sleep_for(std::chrono::microseconds(100));
        }
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    rusage used{};
    ::getrusage(RUSAGE_SELF, &used);
    const double cpu = static_cast<double>(used.ru_utime.tv_sec + used.ru_stime.tv_sec) +
                       static_cast<double>(used.ru_utime.tv_usec + used.ru_stime.tv_usec) / 1e6;
    std::printf("RESULT {\"msgs_per_s\": %.1f, \"seconds\": %.6f, \"cpu_s\": %.6f, \"max_rss_kb\": %ld}\n",
                static_cast<double>(count) / seconds, seconds, cpu, used.ru_maxrss);
    std::fflush(stdout);
    MQTTClient_disconnect(client, 1000);
    MQTTClient_destroy(&client);
    return 0;
}
