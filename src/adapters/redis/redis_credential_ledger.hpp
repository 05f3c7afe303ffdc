// RedisCredentialLedger: the credential ledger of the distributed shape, shared by every validator,
// in Redis (one node or a cluster) with the layout of ledger_layout.hpp.
//
// Each claim is one EVALSHA of a small Lua script on the digest's bucket: it looks the digest up,
// and atomically decides ineligible / claimed / replayed (the same claim tag already holds it) /
// already claimed (another tag holds it: the attempt count is incremented and returned). A batch
// is pipelined, grouped per node in a cluster; requests for the same digest land on the same key,
// hence the same node, in order.
//
// The script also reads the bucket's marker (ledger_layout.hpp) in the same HMGET: a bucket
// without it, or marked with another ledger id than the one opened, is refused rather than read
// as "not eligible", and ClaimBatch fails with kStateLost. The ledger caches its layout and id at
// Open, so once `scrutin ledger rebuild` restored the same ledger (same bucket_bits, same id) the
// same object decides again, without a restart.
#pragma once

#include <memory>
#include <span>
#include <string>

#include "adapters/redis/ledger_layout.hpp"
#include "adapters/redis/redis_client.hpp"
#include "core/result.hpp"
#include "ports/credential_ledger.hpp"

namespace scrutin::redis {

class RedisCredentialLedger final : public ports::CredentialLedger {
 public:
  // Opens the ledger loaded under `prefix`: reads its layout and loads the script on every
  // master. Error when the eligibility database was not loaded there, or Redis is unreachable.
  static core::Result<std::unique_ptr<RedisCredentialLedger>> Open(
      std::shared_ptr<RedisClientPool> pool, std::string_view prefix = kDefaultPrefix);

  // See ports::CredentialLedger. Every claim_tag must be core::ClaimTag(...) (32 hex characters):
  // a kRefused error is returned, before anything is sent, otherwise. Errors are Redis being
  // unreachable or timing out (kUnavailable: some requests of the batch may then have been
  // applied; replaying them with the same claim tags is safe), a bucket of the batch that lost its
  // data or holds another ledger (kStateLost, with a message naming the bucket and
  // `scrutin ledger rebuild`: nothing was decided in that bucket; requests of intact buckets may
  // have been applied, as for kUnavailable), or an unexpected script reply (kCorrupt).
  // Thread-safe: each call leases its own client from the pool. Blocks on the network up to the
  // client's timeouts.
  //
  // There is no Revert (this is not a ports::RevertibleCredentialLedger): Redis keeps the claims
  // durably; callers rely on redelivery with the same claim tag, which ClaimBatch answers with
  // kReplayed.
  core::Status ClaimBatch(std::span<const ports::ClaimRequest> in,
                          std::span<ports::ClaimOutcome> out) override;

  const LedgerLayout& layout() const { return layout_; }

 private:
  RedisCredentialLedger(std::shared_ptr<RedisClientPool> pool, LedgerLayout layout)
      : pool_(std::move(pool)), layout_(std::move(layout)) {}

  std::shared_ptr<RedisClientPool> pool_;
  const LedgerLayout layout_;
};

}  // namespace scrutin::redis
