#include "offline/seen_voters.hpp"

#include <algorithm>

namespace scrutin::offline {

core::Status SeenVoters::Add(const core::RegistryRow& row, std::uint64_t line) {
  Law* law = Find(row.law_id);
  if (law == nullptr) {
    return core::Fail("the registry names more than " + std::to_string(kMaxLaws) +
                      " laws; hashgen handles at most that many per run");
  }
  std::uint32_t body = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    body = body * 10 + static_cast<std::uint32_t>(row.nas[i] - '0');
  }
  Pending& p = ring_[added_++ % kLag];
  if (added_ > kLag) Check(p);
  p = {&law->bits[body / 64], std::uint64_t{1} << (body % 64), line, &law->id};
  __builtin_prefetch(p.word, 1);
  return core::Status();
}

void SeenVoters::Flush() {
  const std::uint64_t first = added_ > kLag ? added_ - kLag : 0;
  for (std::uint64_t i = first; i < added_; ++i) Check(ring_[i % kLag]);
  added_ = 0;
}

void SeenVoters::Check(const Pending& p) {
  if (*p.word & p.mask) {
    on_repeat_(p.line, *p.law_id);
  } else {
    *p.word |= p.mask;
  }
}

SeenVoters::Law* SeenVoters::Find(const std::string& id) {
  if (last_ != nullptr && last_->id == id) return last_;
  auto it = std::find_if(laws_.begin(), laws_.end(), [&](const Law& l) { return l.id == id; });
  if (it == laws_.end()) {
    if (laws_.size() == kMaxLaws) return nullptr;
    laws_.push_back({id, std::vector<std::uint64_t>(100'000'000 / 64 + 1)});
    it = laws_.end() - 1;
  }
  last_ = &*it;
  return last_;
}

}  // namespace scrutin::offline
