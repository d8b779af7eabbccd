// Errors of the host library. Two kinds, never mixed: an NVMe status is a
// value (proto::Status) handed back to the caller, because a target may
// rightly refuse a command; anything that breaks the association (a rule of
// NVMe/TCP or NVMe-oF broken by the target, a socket failure, a timeout) is
// an exception, and the queue that saw it stays unusable afterwards.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include "core/proto/status.hpp"

namespace nvmfd::host {

class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The target broke a protocol rule; the message names the rule and the values.
class ProtocolError : public Error {
public:
    using Error::Error;
};

// The target sent a C2HTermReq (it closes the connection after that).
class TermReqError : public ProtocolError {
public:
    TermReqError(uint16_t fes, uint32_t fei, const std::string& message)
        : ProtocolError(message), fes_(fes), fei_(fei) {}
    uint16_t fes() const { return fes_; }
    uint32_t fei() const { return fei_; }

private:
    uint16_t fes_;
    uint32_t fei_;
};

class TimeoutError : public Error {
public:
    using Error::Error;
};

// Socket failure, refused connection, or the peer closed the connection.
class ConnectionError : public Error {
public:
    using Error::Error;
};

// A command needed to build the association (Connect, enable, Identify...)
// completed with an NVMe status other than success.
class StatusError : public Error {
public:
    StatusError(proto::Status status, uint32_t dw0, const std::string& message)
        : Error(message), status_(status), dw0_(dw0) {}
    proto::Status status() const { return status_; }
    uint32_t dw0() const { return dw0_; }

private:
    proto::Status status_;
    uint32_t dw0_;
};

}  // namespace nvmfd::host
