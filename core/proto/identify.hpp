// Identify data structures (Identify command, CNS values and their 4 KiB
// payloads). Fields we never set are kept as reserved byte ranges so offsets
// stay checkable against the specification.
#pragma once

#include <cstddef>
#include <cstdint>

namespace nvmfd::proto {

enum class IdentifyCns : uint8_t {
    Namespace = 0x00,
    Controller = 0x01,
    ActiveNamespaceList = 0x02,
    NamespaceDescriptorList = 0x03,
    IoCommandSetNamespace = 0x05,
    IoCommandSetController = 0x06,
    IoCommandSetActiveNamespaceList = 0x07,
    IoCommandSetIndependentNamespace = 0x08,
};

inline constexpr size_t kIdentifyDataSize = 4096;

struct PowerStateDescriptor {
    uint16_t max_power;  // centiwatts
    uint8_t reserved1;
    uint8_t flags;
    uint32_t entry_latency;
    uint32_t exit_latency;
    uint8_t read_throughput;
    uint8_t read_latency;
    uint8_t write_throughput;
    uint8_t write_latency;
    uint16_t idle_power;
    uint8_t idle_scale;
    uint8_t reserved2;
    uint16_t active_power;
    uint8_t active_work_scale;
    uint8_t reserved3[9];
};
static_assert(sizeof(PowerStateDescriptor) == 32);

struct IdentifyController {
    uint16_t vid;
    uint16_t ssvid;
    char sn[20];
    char mn[40];
    char fr[8];
    uint8_t rab;
    uint8_t ieee[3];
    uint8_t cmic;
    uint8_t mdts;
    uint16_t cntlid;
    uint32_t ver;
    uint32_t rtd3r;
    uint32_t rtd3e;
    uint32_t oaes;
    uint32_t ctratt;
    uint16_t rrls;
    uint8_t reserved102[9];
    uint8_t cntrltype;
    uint8_t fguid[16];
    uint16_t crdt[3];
    uint8_t reserved134[119];
    uint8_t nvmsr;
    uint8_t vwci;
    uint8_t mec;
    uint16_t oacs;
    uint8_t acl;
    uint8_t aerl;
    uint8_t frmw;
    uint8_t lpa;
    uint8_t elpe;
    uint8_t npss;
    uint8_t avscc;
    uint8_t apsta;
    uint16_t wctemp;
    uint16_t cctemp;
    uint16_t mtfa;
    uint32_t hmpre;
    uint32_t hmmin;
    uint8_t tnvmcap[16];
    uint8_t unvmcap[16];
    uint32_t rpmbs;
    uint16_t edstt;
    uint8_t dsto;
    uint8_t fwug;
    uint16_t kas;  // keep alive support, 100 ms units
    uint16_t hctma;
    uint16_t mntmt;
    uint16_t mxtmt;
    uint32_t sanicap;
    uint32_t hmminds;
    uint16_t hmmaxd;
    uint16_t nsetidmax;
    uint16_t endgidmax;
    uint8_t anatt;
    uint8_t anacap;
    uint32_t anagrpmax;
    uint32_t nanagrpid;
    uint32_t pels;
    uint16_t domainid;
    uint8_t reserved358[10];
    uint8_t megcap[16];
    uint8_t reserved384[128];
    uint8_t sqes;
    uint8_t cqes;
    uint16_t maxcmd;
    uint32_t nn;
    uint16_t oncs;
    uint16_t fuses;
    uint8_t fna;
    uint8_t vwc;
    uint16_t awun;
    uint16_t awupf;
    uint8_t icsvscc;
    uint8_t nwpc;
    uint16_t acwu;
    uint16_t ocfs;
    uint32_t sgls;
    uint32_t mnan;
    uint8_t maxdna[16];
    uint32_t maxcna;
    uint8_t reserved564[204];
    char subnqn[256];
    uint8_t reserved1024[768];
    // NVMe over Fabrics attributes
    uint32_t ioccsz;
    uint32_t iorcsz;
    uint16_t icdoff;
    uint8_t fcatt;
    uint8_t msdbd;
    uint16_t ofcs;
    uint8_t reserved1806[242];
    PowerStateDescriptor psd[32];
    uint8_t vendor_specific[1024];
};
static_assert(sizeof(IdentifyController) == kIdentifyDataSize);
static_assert(offsetof(IdentifyController, cntlid) == 78);
static_assert(offsetof(IdentifyController, cntrltype) == 111);
static_assert(offsetof(IdentifyController, oacs) == 256);
static_assert(offsetof(IdentifyController, kas) == 320);
static_assert(offsetof(IdentifyController, anatt) == 342);
static_assert(offsetof(IdentifyController, sqes) == 512);
static_assert(offsetof(IdentifyController, nn) == 516);
static_assert(offsetof(IdentifyController, sgls) == 536);
static_assert(offsetof(IdentifyController, subnqn) == 768);
static_assert(offsetof(IdentifyController, ioccsz) == 1792);
static_assert(offsetof(IdentifyController, psd) == 2048);

enum class ControllerType : uint8_t { Io = 1, Discovery = 2, Administrative = 3 };

// Bits of IdentifyController fields we set.
namespace idctrl {
inline constexpr uint8_t kCmicMultiController = 1u << 1;
inline constexpr uint8_t kCmicAnaReporting = 1u << 3;
inline constexpr uint32_t kOaesNamespaceAttribute = 1u << 8;
inline constexpr uint32_t kOaesAnaChange = 1u << 11;
inline constexpr uint32_t kOaesDiscoveryLogChange = 1u << 31;
inline constexpr uint8_t kLpaExtendedData = 1u << 2;  // Get Log Page offset and NUMDU
inline constexpr uint8_t kLpaCommandEffects = 1u << 1;
inline constexpr uint16_t kOncsCompare = 1u << 0;
inline constexpr uint16_t kOncsDatasetManagement = 1u << 2;
inline constexpr uint16_t kOncsWriteZeroes = 1u << 3;
inline constexpr uint8_t kVwcPresent = 1u << 0;
inline constexpr uint8_t kVwcFlushBroadcastNotSupported = 2u << 1;
inline constexpr uint32_t kSglsSupported = 1u << 0;
inline constexpr uint32_t kSglsKeyedSupported = 1u << 2;  // Keyed SGL Data Block (NVMe/RDMA)
inline constexpr uint32_t kSglsOffsetSupported = 1u << 20;
inline constexpr uint8_t kAnacapOptimized = 1u << 0;
inline constexpr uint8_t kAnacapNonOptimized = 1u << 1;
inline constexpr uint8_t kAnacapInaccessible = 1u << 2;
inline constexpr uint8_t kAnacapPersistentLoss = 1u << 3;
inline constexpr uint8_t kAnacapChange = 1u << 4;
inline constexpr uint8_t kAnacapGrpidNotChanged = 1u << 6;
inline constexpr uint8_t kAnacapGrpidInNsMgmt = 1u << 7;
inline constexpr uint32_t kCtrattHostId128 = 1u << 0;
}  // namespace idctrl

struct LbaFormat {
    uint16_t ms;  // metadata size
    uint8_t lbads;  // log2 of the data size
    uint8_t rp;
};
static_assert(sizeof(LbaFormat) == 4);

struct IdentifyNamespace {
    uint64_t nsze;
    uint64_t ncap;
    uint64_t nuse;
    uint8_t nsfeat;
    uint8_t nlbaf;
    uint8_t flbas;
    uint8_t mc;
    uint8_t dpc;
    uint8_t dps;
    uint8_t nmic;
    uint8_t rescap;
    uint8_t fpi;
    uint8_t dlfeat;
    uint16_t nawun;
    uint16_t nawupf;
    uint16_t nacwu;
    uint16_t nabsn;
    uint16_t nabo;
    uint16_t nabspf;
    uint16_t noiob;
    uint8_t nvmcap[16];
    uint16_t npwg;
    uint16_t npwa;
    uint16_t npdg;
    uint16_t npda;
    uint16_t nows;
    uint16_t mssrl;
    uint32_t mcl;
    uint8_t msrc;
    uint8_t reserved81;
    uint8_t nulbaf;
    uint8_t reserved83[9];
    uint32_t anagrpid;
    uint8_t reserved96[3];
    uint8_t nsattr;
    uint16_t nvmsetid;
    uint16_t endgid;
    uint8_t nguid[16];
    uint8_t eui64[8];
    LbaFormat lbaf[64];
    uint8_t vendor_specific[3712];
};
static_assert(sizeof(IdentifyNamespace) == kIdentifyDataSize);
static_assert(offsetof(IdentifyNamespace, nvmcap) == 48);
static_assert(offsetof(IdentifyNamespace, npwg) == 64);
static_assert(offsetof(IdentifyNamespace, anagrpid) == 92);
static_assert(offsetof(IdentifyNamespace, nguid) == 104);
static_assert(offsetof(IdentifyNamespace, lbaf) == 128);

namespace idns {
inline constexpr uint8_t kNsfeatThinProvisioning = 1u << 0;
inline constexpr uint8_t kNsfeatOptimalIoFields = 1u << 4;  // NPWG..NOWS valid
inline constexpr uint8_t kNmicShared = 1u << 0;
inline constexpr uint8_t kDlfeatReadsZeroes = 0x1;          // deallocated blocks read as zeroes
inline constexpr uint8_t kDlfeatWriteZeroesDeallocates = 1u << 3;
}  // namespace idns

// Namespace Identification Descriptor list (CNS 03h).
enum class NidType : uint8_t { Eui64 = 1, Nguid = 2, Uuid = 3, Csi = 4 };
struct NidHeader {
    uint8_t nidt;
    uint8_t nidl;
    uint8_t reserved[2];
};
static_assert(sizeof(NidHeader) == 4);

// I/O Command Set Independent Identify Namespace (CNS 08h), asked for by
// newer Linux hosts.
struct IdentifyNamespaceIndependent {
    uint8_t nsfeat;
    uint8_t nmic;
    uint8_t rescap;
    uint8_t fpi;
    uint32_t anagrpid;
    uint8_t nsattr;
    uint8_t reserved9;
    uint16_t nvmsetid;
    uint16_t endgid;
    uint8_t nstat;  // bit 0: namespace is ready
    uint8_t reserved15[4081];
};
static_assert(sizeof(IdentifyNamespaceIndependent) == kIdentifyDataSize);

}  // namespace nvmfd::proto
