#include "core/target/auth_workers.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

namespace nvmfd::target {

struct AuthWorkers::Impl {
    explicit Impl(unsigned threads) : pool(threads) {}
    boost::asio::thread_pool pool;
};

AuthWorkers::AuthWorkers(unsigned threads) : impl_(std::make_unique<Impl>(threads ? threads : 1)) {}

AuthWorkers::~AuthWorkers() {
    impl_->pool.stop();
    impl_->pool.join();
}

void AuthWorkers::post(std::function<void()> job) { boost::asio::post(impl_->pool, std::move(job)); }

}  // namespace nvmfd::target
