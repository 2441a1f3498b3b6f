#include "test_helpers.hpp"

#include <algorithm>
#include <stdexcept>

#include "loopback.hpp"
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

namespace fbm_test {

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

fedbiomed::Json pong(const std::string& researcher_id, const std::string& node_id, int sequence) {
    fedbiomed::Json msg = fedbiomed::Json::object();
    msg["protocol_version"] = "1";
    msg["researcher_id"] = researcher_id;
    msg["node_id"] = node_id;
    msg["success"] = true;
    msg["sequence"] = sequence;
    msg["command"] = "pong";
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

RawClient::RawClient(TestBroker& broker, const std::vector<std::string>& topics) {
    connect_to(broker.port(), topics, "", false);
}

RawClient::RawClient(TestBroker& broker, const std::vector<std::string>& topics, const std::string& client_id,
                     bool persistent) {
    connect_to(broker.port(), topics, client_id, persistent);
}

RawClient::RawClient(int port, const std::vector<std::string>& topics, const std::string& client_id,
                     bool persistent) {
    connect_to(port, topics, client_id, persistent);
}

void RawClient::connect_to(int port, const std::vector<std::string>& topics, const std::string& client_id,
                           bool persistent) {
    fd_ = connect_to_loopback(port);
    if (fd_ < 0) {
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

// ---- FakeBroker ----

FakeBroker::FakeBroker(Mode mode, std::uint8_t connack_code, std::chrono::milliseconds delay)
    : mode_(mode), code_(connack_code), delay_(delay) {
    const LoopbackListener listener = listen_on_loopback(8);
    listen_fd_ = listener.fd;
    port_ = listener.port;
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
            ssize_t got = 0;
            if (::poll(&reader, 1, 2000) > 0) {
                got = ::recv(fd, buffer, sizeof buffer, 0);
            }
            // CONNECT: fixed header, remaining length (one byte here), "\0\4MQTT", protocol level.
            if (mode_ == Mode::mqtt311_only && got > 8 && buffer[8] == 5) {
                refused_mqtt5_.fetch_add(1);
                ::shutdown(fd, SHUT_RDWR);
                continue;
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
            const bool subscriptions =
                mode_ == Mode::suback || mode_ == Mode::close_on_subscribe || mode_ == Mode::mqtt311_only;
            const unsigned char connack[4] = {0x20, 0x02, 0x00, subscriptions ? std::uint8_t{0} : code_};
            (void)::send(fd, connack, sizeof connack, MSG_NOSIGNAL);
            answered_.fetch_add(1);
            if (subscriptions) {
                serve_subscriptions(fd);
            }
        }
    }
    for (const int fd : clients) {
        ::close(fd);
    }
}

void FakeBroker::serve_subscriptions(int fd) {
    std::string pending;
    while (!stop_.load()) {
        pollfd reader{fd, POLLIN, 0};
        if (::poll(&reader, 1, 20) <= 0) {
            continue;
        }
        char buffer[4096];
        const ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
        if (got <= 0) {
            return;
        }
        pending.append(buffer, static_cast<std::size_t>(got));
        // Whole packets only: fixed header, remaining length (variable byte integer), body.
        for (;;) {
            std::size_t length = 0;
            std::size_t offset = 1;
            unsigned shift = 0;
            bool complete = false;
            while (offset < pending.size() && offset < 5) {
                const auto byte = static_cast<unsigned char>(pending[offset++]);
                length |= static_cast<std::size_t>(byte & 0x7FU) << shift;
                shift += 7;
                if ((byte & 0x80U) == 0) {
                    complete = true;
                    break;
                }
            }
            if (!complete || pending.size() < offset + length) {
                break;
            }
            const auto type = static_cast<unsigned char>(pending[0]) & 0xF0U;
            if (type == 0x80U) {  // SUBSCRIBE: packet id first
                subscribes_.fetch_add(1);
                if (mode_ == Mode::close_on_subscribe) {
                    ::shutdown(fd, SHUT_RDWR);
                    return;
                }
                const unsigned char suback[5] = {0x90, 0x03, static_cast<unsigned char>(pending[offset]),
                                                 static_cast<unsigned char>(pending[offset + 1]), code_};
                (void)::send(fd, suback, sizeof suback, MSG_NOSIGNAL);
            } else if (type == 0xC0U) {  // PINGREQ
                const unsigned char pingresp[2] = {0xD0, 0x00};
                (void)::send(fd, pingresp, sizeof pingresp, MSG_NOSIGNAL);
            }
            pending.erase(0, offset + length);
        }
    }
}

std::string fault_peer_binary() {
    return FBM_FAULT_PEER;
}

std::chrono::nanoseconds process_cpu_time() {
    timespec now{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
    return std::chrono::seconds(now.tv_sec) + std::chrono::nanoseconds(now.tv_nsec);
}

}  // namespace fbm_test
