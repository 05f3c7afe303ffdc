#include "loadgen/electorate.hpp"

#include <fmt/format.h>

#include <unordered_map>

#include "core/registry.hpp"

namespace scrutin::loadgen {

core::Result<Electorate> LoadElectorate(const std::filesystem::path& path, std::uint64_t offset) {
  auto reader = core::RegistryReader::Open(path);
  if (!reader.ok()) return core::Fail(fmt::format("--voters: {}", reader.error()));
  Electorate e;
  std::unordered_map<std::string, std::uint8_t> law_index;
  core::RegistryRow row;
  while (true) {
    auto next = (*reader)->Next(row);
    if (!next.ok()) return core::Fail(fmt::format("--voters {}: {}", path.string(), next.error()));
    if (!*next) break;
    const std::uint64_t n = e.rows++;
    std::uint32_t nas = 0;
    for (char c : row.nas) nas = nas * 10 + static_cast<std::uint32_t>(c - '0');
    e.nas_sorted.push_back(nas);
    auto [it, inserted] = law_index.try_emplace(row.law_id, 0);
    if (inserted) {
      if (e.laws.size() >= kMaxLaws) {
        return core::Fail(fmt::format("--voters: more than {} laws", kMaxLaws));
      }
      it->second = static_cast<std::uint8_t>(e.laws.size());
      e.laws.push_back(row.law_id);
    }
    if (n < offset) continue;
    PoolEntry p;
    p.nas = nas;
    std::copy_n(row.code.begin(), 6, p.code.begin());
    p.law = it->second;
    e.pool.push_back(p);
  }
  std::sort(e.nas_sorted.begin(), e.nas_sorted.end());
  e.nas_sorted.erase(std::unique(e.nas_sorted.begin(), e.nas_sorted.end()), e.nas_sorted.end());
  if (e.rows == 0) return core::Fail(fmt::format("--voters {}: no voter", path.string()));
  return e;
}

}  // namespace scrutin::loadgen
