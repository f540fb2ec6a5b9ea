/// Resource limits of a portal plan (`plans.<portalType>.*` in the config).
public struct PlanLimits: Sendable, Equatable, Codable {
    /// Game servers the user may own.
    public var servers: Int
    /// Memory across all servers, in MiB.
    public var memory: Int
    /// Disk across all servers, in MiB.
    public var disk: Int
    /// CPU across all servers, in percent of one core.
    public var cpu: Int
    /// Databases across all servers.
    public var databases: Int
    /// Backups per server.
    public var backups: Int

    public init(servers: Int, memory: Int, disk: Int, cpu: Int, databases: Int, backups: Int) {
        self.servers = servers
        self.memory = memory
        self.disk = disk
        self.cpu = cpu
        self.databases = databases
        self.backups = backups
    }

    public static let defaults: [PortalType: PlanLimits] = [
        .free: PlanLimits(servers: 1, memory: 1024, disk: 5120, cpu: 100, databases: 1, backups: 1),
        .paid: PlanLimits(servers: 5, memory: 8192, disk: 51200, cpu: 400, databases: 5, backups: 5),
        .educational: PlanLimits(servers: 3, memory: 4096, disk: 20480, cpu: 200, databases: 3, backups: 3),
        .enterprise: PlanLimits(servers: 50, memory: 65536, disk: 512_000, cpu: 1600, databases: 50, backups: 50),
    ]

    static func read(_ section: ConfigSection, defaults d: PlanLimits) throws -> PlanLimits {
        let range = 0...Int(Int32.max)
        return PlanLimits(
            servers: try section.int("servers", default: d.servers, in: range),
            memory: try section.int("memory", default: d.memory, in: range),
            disk: try section.int("disk", default: d.disk, in: range),
            cpu: try section.int("cpu", default: d.cpu, in: range),
            databases: try section.int("databases", default: d.databases, in: range),
            backups: try section.int("backups", default: d.backups, in: range)
        )
    }
}

/// The age at which a user of a billing country counts as an adult (`isChildAccount`).
public struct AdultAges: Sendable, Equatable {
    public var standard: Int
    public var byCountry: [String: Int]

    public static let defaults = AdultAges(
        standard: 18,
        byCountry: ["CA": 19, "TH": 20, "TW": 20, "AE": 21, "BH": 21, "OM": 21]
    )

    public init(standard: Int, byCountry: [String: Int]) {
        self.standard = standard
        self.byCountry = byCountry
    }

    public func adultAge(country: String?) -> Int {
        country.flatMap { byCountry[$0] } ?? standard
    }

    /// `policies.age.adultAge` and `policies.age.adultAges.<CC>`.
    static func read(_ section: ConfigSection) throws -> AdultAges {
        let standard = try section.int("adultAge", default: defaults.standard, in: 1...150)
        var byCountry: [String: Int] = [:]
        for code in Countries.all.sorted() {
            let value = try section.optionalInt("adultAges.\(code)", in: 1...150) ?? defaults.byCountry[code]
            if let value { byCountry[code] = value }
        }
        return AdultAges(standard: standard, byCountry: byCountry)
    }
}
