// fbm-floor-async: the cost floor of Paho C's asynchronous client (MQTTAsync, what Paho C++'s async_client
// and therefore this library sit on): one process publishes COUNT copies of a SIZE-byte payload at QOS,
// nothing else (no JSON, no C++ wrapper, no subscriber, Paho's buffer limit raised so nothing is refused).
// With WINDOW > 0 at most WINDOW publications are unacknowledged at a time (library-level flow control).
//
//   fbm-floor-async PORT COUNT QOS SIZE [WINDOW]   ->   RESULT {"msgs_per_s": ..., "cpu_s": ..., ...}
//
// Used by `fbm-bench run --only limits` to show what bounds a client built on MQTTAsync.
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

#include <MQTTAsync.h>
#include <sys/resource.h>

namespace {

std::mutex g_mutex;
std::condition_variable g_changed;
long g_done = 0;
bool g_connected = false;
bool g_failed = false;

void on_connected(void* /*context*/, MQTTAsync_successData* /*data*/) {
    {
        std::lock_guard<std::mutex> lock(g_mutex);
        g_connected = true;
    }
    g_changed.notify_all();
}

void on_connect_failed(void* /*context*/, MQTTAsync_failureData* /*data*/) {
    {
        std::lock_guard<std::mutex> lock(g_mutex);
        g_failed = true;
    }
    g_changed.notify_all();
}

void on_published(void* /*context*/, MQTTAsync_successData* /*data*/) {
    {
        std::lock_guard<std::mutex> lock(g_mutex);
        ++g_done;
    }
    g_changed.notify_all();
}

double cpu_seconds(long* max_rss_kb) {
    rusage used{};
    ::getrusage(RUSAGE_SELF, &used);
    *max_rss_kb = used.ru_maxrss;
    return static_cast<double>(used.ru_utime.tv_sec + used.ru_stime.tv_sec) +
           static_cast<double>(used.ru_utime.tv_usec + used.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 5) {
        std::fprintf(stderr, "usage: fbm-floor-async PORT COUNT QOS SIZE [WINDOW]\n");
        return 2;
    }
    const std::string uri = std::string("tcp://127.0.0.1:") + argv[1];
    const long count = std::atol(argv[2]);
    const int qos = std::atoi(argv[3]);
    const std::string payload(static_cast<std::size_t>(std::atol(argv[4])), 'x');
    const long window = argc > 5 ? std::atol(argv[5]) : 0;

    MQTTAsync client = nullptr;
    MQTTAsync_createOptions create = MQTTAsync_createOptions_initializer;
    create.maxBufferedMessages = 100000000;
    if (MQTTAsync_createWithOptions(&client, uri.c_str(), "fbm-floor-async", MQTTCLIENT_PERSISTENCE_NONE,
                                    nullptr, &create) != MQTTASYNC_SUCCESS) {
        return 1;
    }
    MQTTAsync_connectOptions options = MQTTAsync_connectOptions_initializer;
    options.MQTTVersion = MQTTVERSION_3_1_1;
    options.cleansession = 1;
    options.onSuccess = on_connected;
    options.onFailure = on_connect_failed;
    if (MQTTAsync_connect(client, &options) != MQTTASYNC_SUCCESS) {
        return 1;
    }
    {
        std::unique_lock<std::mutex> lock(g_mutex);
        g_changed.wait(lock, [] { return g_connected || g_failed; });
        if (g_failed) {
            return 1;
        }
    }
    const auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < count; ++i) {
        if (window > 0) {
            std::unique_lock<std::mutex> lock(g_mutex);
            g_changed.wait(lock, [&] { return i - g_done < window; });
        }
        MQTTAsync_responseOptions response = MQTTAsync_responseOptions_initializer;
        response.onSuccess = on_published;
        if (MQTTAsync_send(client, "general/researcher", static_cast<int>(payload.size()), payload.data(),
                           qos, 0, &response) != MQTTASYNC_SUCCESS) {
            std::fprintf(stderr, "fbm-floor-async: publication %ld refused\n", i);
            return 1;
        }
    }
    {
        std::unique_lock<std::mutex> lock(g_mutex);
        g_changed.wait(lock, [&] { return g_done == count; });
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    long max_rss_kb = 0;
    const double cpu = cpu_seconds(&max_rss_kb);
    std::printf("RESULT {\"msgs_per_s\": %.1f, \"seconds\": %.6f, \"cpu_s\": %.6f, \"max_rss_kb\": %ld}\n",
                static_cast<double>(count) / seconds, seconds, cpu, max_rss_kb);
    std::fflush(stdout);
    MQTTAsync_disconnectOptions disconnect = MQTTAsync_disconnectOptions_initializer;
    disconnect.timeout = 1000;
    MQTTAsync_disconnect(client, &disconnect);
    MQTTAsync_destroy(&client);
    return 0;
}
