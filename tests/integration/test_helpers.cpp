#include "test_helpers.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

// LeakSanitizer: Paho C 1.3.12 loses the publications handed to it while its socket is failing (between
// the failure and the connection-lost callback): they are neither sent, nor failed back, nor freed when the
// client is destroyed (a few hundred bytes each). The fault tests publish continuously while the broker is
// killed, so they meet it. Exempted: allocations whose stack goes through Paho C (ASan's fast unwinder stops
// in Paho, built without frame pointers, so the exported function is not always on the stack).
// (Read by LeakSanitizer at start.)
extern "C" const char* __lsan_default_suppressions();
extern "C" const char* __lsan_default_suppressions() {
    return "leak:libpaho-mqtt3as.so\n";
}

namespace fbm_test {

fedbiomed::MessagingOptions options_for(const MosquittoBroker& broker) {
    fedbiomed::MessagingOptions options;
    options.broker = broker.host();
    options.port = broker.port();
    options.connect_timeout = std::chrono::milliseconds(5000);
    options.stop_timeout = std::chrono::milliseconds(2000);
    return options;
}

std::string unique_suffix() {
    static std::atomic<int> counter{0};
    return std::to_string(::getpid()) + "_" + std::to_string(counter.fetch_add(1));
}

fedbiomed::Json ping(const std::string& researcher_id, int sequence) {
    fedbiomed::Json msg = fedbiomed::Json::object();
    msg["protocol_version"] = "1";
    msg["researcher_id"] = researcher_id;
    msg["sequence"] = sequence;
    msg["command"] = "ping";
    return msg;
}

std::size_t count_occurrences(const std::string& text, const std::string& needle) {
    std::size_t count = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
        ++count;
    }
    return count;
}

// ---- RawClient ----

namespace {

std::string encode_length(std::size_t length) {
    std::string out;
    do {
        auto digit = static_cast<std::uint8_t>(length % 128);
        length /= 128;
        if (length > 0) {
            digit = static_cast<std::uint8_t>(digit | 0x80);
        }
        out += static_cast<char>(digit);
    } while (length > 0);
    return out;
}

std::string encode_string(const std::string& text) {
    std::string out;
    out += static_cast<char>((text.size() >> 8) & 0xff);
    out += static_cast<char>(text.size() & 0xff);
    out += text;
    return out;
}

std::string encode_id(std::uint16_t id) {
    std::string out;
    out += static_cast<char>(id >> 8);
    out += static_cast<char>(id & 0xff);
    return out;
}

bool read_exact(int fd, char* buffer, std::size_t size) {
    std::size_t done = 0;
    while (done < size) {
        const ssize_t got = ::recv(fd, buffer + done, size - done, 0);
        if (got <= 0) {
            return false;
        }
        done += static_cast<std::size_t>(got);
    }
    return true;
}

}  // namespace

RawClient::RawClient(const MosquittoBroker& broker, const std::vector<std::string>& topics) {
    connect_to(broker.port(), topics, "", false);
}

RawClient::RawClient(const MosquittoBroker& broker, const std::vector<std::string>& topics,
                     const std::string& client_id, bool persistent) {
    connect_to(broker.port(), topics, client_id, persistent);
}

RawClient::RawClient(int port, const std::vector<std::string>& topics, const std::string& client_id,
                     bool persistent) {
    connect_to(port, topics, client_id, persistent);
}

void RawClient::connect_to(int port, const std::vector<std::string>& topics, const std::string& client_id,
                           bool persistent) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        if (fd_ >= 0) {
            ::close(fd_);
        }
        throw std::runtime_error("RawClient: cannot connect to port " + std::to_string(port));
    }
    reader_ = std::thread([this] { read_loop(); });
    // CONNECT: protocol "MQTT" level 4, clean session unless persistent, keepalive 60 s.
    std::string body = encode_string("MQTT");
    body += static_cast<char>(4);
    body += static_cast<char>(persistent ? 0x00 : 0x02);
    body += encode_id(60);
    body += encode_string(client_id);
    send_packet(0x10, body);
    {
        std::unique_lock<std::mutex> lock(mutex_);
        if (!changed_.wait_for(lock, kWait, [&] { return connacked_ || closed_; }) || !connacked_) {
            lock.unlock();
            ::shutdown(fd_, SHUT_RDWR);
            reader_.join();
            ::close(fd_);
            throw std::runtime_error("RawClient: no CONNACK");
        }
    }
    for (const auto& topic : topics) {
        subscribe(topic);
    }
}

RawClient::~RawClient() {
    try {
        send_packet(0xE0, "");
    } catch (...) {
    }
    ::shutdown(fd_, SHUT_RDWR);
    reader_.join();
    ::close(fd_);
}

void RawClient::send_packet(std::uint8_t header, const std::string& body) {
    std::string packet;
    packet += static_cast<char>(header);
    packet += encode_length(body.size());
    packet += body;
    std::lock_guard<std::mutex> lock(send_mutex_);
    std::size_t done = 0;
    while (done < packet.size()) {
        const ssize_t sent = ::send(fd_, packet.data() + done, packet.size() - done, MSG_NOSIGNAL);
        if (sent <= 0) {
            throw std::runtime_error("RawClient: send failed");
        }
        done += static_cast<std::size_t>(sent);
    }
}

bool RawClient::wait_ack(std::uint16_t packet_id) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, kWait,
                             [&] { return std::find(acks_.begin(), acks_.end(), packet_id) != acks_.end(); });
}

void RawClient::subscribe(const std::string& topic) {
    std::uint16_t id = 0;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        id = next_id_++;
    }
    std::string body = encode_id(id) + encode_string(topic);
    body += static_cast<char>(1);
    send_packet(0x82, body);
    if (!wait_ack(id)) {
        throw std::runtime_error("RawClient: no SUBACK for " + topic);
    }
}

void RawClient::publish(const std::string& topic, const std::string& payload) {
    publish_with(0x32, topic, payload);
}

void RawClient::publish_retained(const std::string& topic, const std::string& payload) {
    publish_with(0x33, topic, payload);
}

void RawClient::publish_with(std::uint8_t header, const std::string& topic, const std::string& payload) {
    std::uint16_t id = 0;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        id = next_id_++;
        if (next_id_ == 0) {
            next_id_ = 1;  // packet id 0 is not allowed
        }
    }
    send_packet(header, encode_string(topic) + encode_id(id) + payload);
    if (!wait_ack(id)) {
        throw std::runtime_error("RawClient: no PUBACK on " + topic);
    }
}

bool RawClient::closed() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return closed_;
}

void RawClient::read_loop() {
    for (;;) {
        char header = 0;
        if (!read_exact(fd_, &header, 1)) {
            break;
        }
        std::size_t length = 0;
        std::size_t multiplier = 1;
        char digit = 0;
        bool ok = true;
        do {
            if (!read_exact(fd_, &digit, 1)) {
                ok = false;
                break;
            }
            length += (static_cast<std::size_t>(static_cast<unsigned char>(digit)) & 0x7f) * multiplier;
            multiplier *= 128;
        } while ((static_cast<unsigned char>(digit) & 0x80) != 0);
        std::string body(length, '\0');
        if (!ok || (length > 0 && !read_exact(fd_, body.data(), length))) {
            break;
        }
        const auto type = static_cast<unsigned char>(header) >> 4;
        auto id_at = [&](std::size_t at) {
            return static_cast<std::uint16_t>((static_cast<unsigned char>(body[at]) << 8) |
                                              static_cast<unsigned char>(body[at + 1]));
        };
        std::lock_guard<std::mutex> lock(mutex_);
        if (type == 2) {  // CONNACK
            connacked_ = body.size() >= 2 && body[1] == 0;
        } else if (type == 9 || type == 4) {  // SUBACK, PUBACK
            acks_.push_back(id_at(0));
        } else if (type == 3) {  // PUBLISH
            const int qos = (static_cast<unsigned char>(header) >> 1) & 0x03;
            const std::size_t topic_length = id_at(0);
            std::size_t at = 2 + topic_length;
            RawMessage message{body.substr(2, topic_length), {}};
            if (qos > 0) {
                const std::uint16_t id = id_at(at);
                at += 2;
                try {
                    send_packet(0x40, encode_id(id));
                } catch (...) {
                }
            }
            message.payload = body.substr(at);
            messages_.push_back(std::move(message));
        }
        changed_.notify_all();
    }
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    changed_.notify_all();
}

bool RawClient::wait_for_count(std::size_t count, std::chrono::milliseconds timeout) const {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return messages_.size() >= count; });
}

std::vector<RawMessage> RawClient::messages() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return messages_;
}

// ---- Recorder ----

fedbiomed::MessageHandler Recorder::handler() {
    return [this](const fedbiomed::Json& msg, const std::string& topic) { add_message(msg, topic); };
}

fedbiomed::FaultHandler Recorder::fault_handler() {
    return [this](const fedbiomed::MessagingFault& fault) { add_fault(fault); };
}

void Recorder::add_message(const fedbiomed::Json& msg, const std::string& topic) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        messages_.emplace_back(msg, topic);
    }
    changed_.notify_all();
}

void Recorder::add_fault(const fedbiomed::MessagingFault& fault) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        faults_.push_back(fault);
    }
    changed_.notify_all();
}

bool Recorder::wait_messages(std::size_t count, std::chrono::milliseconds timeout) const {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return messages_.size() >= count; });
}

bool Recorder::wait_faults(std::size_t count, std::chrono::milliseconds timeout) const {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return faults_.size() >= count; });
}

std::vector<std::pair<fedbiomed::Json, std::string>> Recorder::messages() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return messages_;
}

std::vector<fedbiomed::MessagingFault> Recorder::faults() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return faults_;
}

// ---- FakeBroker ----

FakeBroker::FakeBroker(Mode mode, std::uint8_t connack_code, std::chrono::milliseconds delay)
    : mode_(mode), code_(connack_code), delay_(delay) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof address;
    if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listen_fd_, 8) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        throw std::runtime_error("FakeBroker: cannot listen");
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { run(); });
}

FakeBroker::~FakeBroker() {
    stop_.store(true);
    thread_.join();
    ::close(listen_fd_);
}

void FakeBroker::run() {
    std::vector<int> clients;
    while (!stop_.load()) {
        pollfd waiter{listen_fd_, POLLIN, 0};
        if (::poll(&waiter, 1, 20) <= 0) {
            continue;
        }
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) {
            continue;
        }
        accepted_.fetch_add(1);
        clients.push_back(fd);
        if (mode_ != Mode::silent) {
            // Read the CONNECT (best effort), then answer with the configured return code.
            char buffer[512];
            pollfd reader{fd, POLLIN, 0};
            if (::poll(&reader, 1, 2000) > 0) {
                (void)::recv(fd, buffer, sizeof buffer, 0);
            }
            if (mode_ == Mode::delayed_connack) {
                // Stands for a broker too slow to answer within the client's deadline.
                const auto until = std::chrono::steady_clock::now() + delay_;
                while (!stop_.load() && std::chrono::steady_clock::now() < until) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(5));
                }
            }
            pollfd closed_probe{fd, POLLIN, 0};
            if (::poll(&closed_probe, 1, 0) > 0 && ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT) == 0) {
                gone_before_answer_.fetch_add(1);  // orderly close by the client: it gave up
            }
            const unsigned char connack[4] = {0x20, 0x02, 0x00, code_};
            (void)::send(fd, connack, sizeof connack, MSG_NOSIGNAL);
            answered_.fetch_add(1);
        }
    }
    for (const int fd : clients) {
        ::close(fd);
    }
}

// ---- PeerProcess ----

namespace {

std::string read_whole_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace

PeerProcess::PeerProcess(std::vector<std::string> args) {
    char path_template[] = "/tmp/fbm-peer-XXXXXX";
    const int out_fd = ::mkstemp(path_template);
    if (out_fd < 0) {
        throw std::runtime_error("PeerProcess: mkstemp failed");
    }
    output_path_ = path_template;
    std::vector<char*> argv;
    for (auto& arg : args) {
        argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) {
        ::close(out_fd);
        throw std::runtime_error("PeerProcess: fork failed");
    }
    if (pid == 0) {
        // Child: async-signal-safe calls only until exec. It dies with the test process.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) {
            ::_exit(127);
        }
        ::dup2(out_fd, 1);
        ::dup2(out_fd, 2);
        ::execve(argv[0], argv.data(), environ);
        ::_exit(127);
    }
    ::close(out_fd);
    pid_ = pid;
}

PeerProcess::~PeerProcess() {
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
    }
    if (::testing::Test::HasFailure()) {
        std::cerr << "---- peer output (" << output_path_ << ") ----\n" << output() << "---- end ----\n";
    }
    ::unlink(output_path_.c_str());
}

std::string PeerProcess::output() const {
    return read_whole_file(output_path_);
}

bool PeerProcess::wait_for_output(const std::string& text, std::chrono::milliseconds timeout) const {
    return wait_until([&] { return output().find(text) != std::string::npos; }, timeout);
}

std::vector<std::string> PeerProcess::lines(const std::string& prefix) const {
    std::vector<std::string> found;
    const std::string text = output();
    // Complete lines only: the process may be in the middle of writing the last one.
    std::istringstream in(text.substr(0, text.rfind('\n') + 1));
    for (std::string line; std::getline(in, line);) {
        if (line.compare(0, prefix.size(), prefix) == 0) {
            found.push_back(line.substr(prefix.size()));
        }
    }
    return found;
}

std::size_t PeerProcess::count_lines(const std::string& prefix) const {
    return lines(prefix).size();
}

void PeerProcess::signal(int signal_number) {
    if (pid_ > 0) {
        ::kill(pid_, signal_number);
    }
}

int PeerProcess::wait_exit(std::chrono::milliseconds timeout) {
    if (pid_ <= 0) {
        return -2;
    }
    int status = 0;
    if (!wait_until([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; }, timeout)) {
        return -2;
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string fault_peer_binary() {
    return FBM_FAULT_PEER;
}

std::chrono::nanoseconds process_cpu_time() {
    timespec now{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
    return std::chrono::seconds(now.tv_sec) + std::chrono::nanoseconds(now.tv_nsec);
}

// ---- run_process ----

ProcessResult run_process(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
    char path_template[] = "/tmp/fbm-process-XXXXXX";
    const int out_fd = ::mkstemp(path_template);
    if (out_fd < 0) {
        throw std::runtime_error("run_process: mkstemp failed");
    }
    std::vector<char*> argv;
    for (const auto& arg : args) {
        argv.push_back(const_cast<char*>(arg.c_str()));
    }
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
    posix_spawn_file_actions_adddup2(&actions, out_fd, 2);
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out_fd);
    ProcessResult result;
    if (rc != 0) {
        ::unlink(path_template);
        throw std::runtime_error("run_process: cannot run " + args[0] + ": " + std::strerror(rc));
    }
    int status = 0;
    const bool exited = wait_until([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, timeout);
    if (!exited) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        result.timed_out = true;
    } else if (WIFEXITED(status)) {
        result.exit_code = WEXITSTATUS(status);
    }
    std::ifstream in(path_template);
    std::ostringstream text;
    text << in.rdbuf();
    result.output = text.str();
    ::unlink(path_template);
    return result;
}

}  // namespace fbm_test
