// Admission through the control API: the core's AdmissionHook, answered on
// the control thread by whoever registered a decider (the Lua policy
// engine). Reactors never wait: they post the question and get the answer
// as a message; the core bounds the wait.
#include <memory>

#include "core/control/control.hpp"

namespace nvmfd::control {
namespace {

class ControlThreadAdmission final : public target::AdmissionHook {
public:
    ControlThreadAdmission(Control::AdmissionDecider decide, std::function<void(std::function<void()>)> run)
        : decide_(std::make_shared<Control::AdmissionDecider>(std::move(decide))), run_(std::move(run)) {}

    void ask(target::AdmissionQuery query, Answer answer) override {
        run_([decide = decide_, query = std::move(query), answer = std::move(answer)] { answer((*decide)(query)); });
    }

private:
    std::shared_ptr<Control::AdmissionDecider> decide_;
    std::function<void(std::function<void()>)> run_;
};

}  // namespace

void Control::set_admission(AdmissionDecider decide) {
    if (!decide) {
        target_.set_admission_hook(nullptr);
        return;
    }
    // The hook holds the executor itself, not this Control: a reactor may
    // still be asking through a copy of it while the Control goes away.
    std::function<void(std::function<void()>)> post;
    {
        std::lock_guard lock(executor_mutex_);
        post = executor_;
    }
    if (!post) post = [](std::function<void()> fn) { fn(); };
    target_.set_admission_hook(std::make_shared<ControlThreadAdmission>(std::move(decide), std::move(post)));
}

}  // namespace nvmfd::control
