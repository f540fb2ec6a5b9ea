import Foundation

/// The full profile of a user, as the profile routes and the login reply show it
/// (CONTRACT §4). Never carries the password hash, sessions or secrets.
public enum ProfileView {
    public static func json(_ user: User, settings: CoreSettings, now: Date = Date()) -> JSONValue {
        let limits = settings.plans[user.portalType] ?? PlanLimits.defaults[user.portalType]!
        let age = user.dateOfBirth.flatMap { Validate.age(dateOfBirth: $0, now: now) }
        let isChild = age.map { $0 < settings.adultAges.adultAge(country: user.billingCountry) } ?? false
        return .object([
            ("id", .string(user.id)),
            ("email", .string(user.email)),
            ("firstName", .string(user.firstName)),
            ("lastName", .string(user.lastName)),
            ("displayName", .string(user.displayName)),
            ("role", .string(user.role.rawValue)),
            ("portalType", .string(user.portalType.rawValue)),
            ("emailVerified", .bool(user.emailVerified)),
            ("twoFactorEnabled", .bool(user.twoFactorEnabled)),
            ("suspended", .bool(user.suspended)),
            ("limits", limits.json),
            ("settings", .object(user.settings.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })),
            ("address", .string(user.address)),
            ("billingCity", .string(user.billingCity)),
            ("billingState", .string(user.billingState)),
            ("billingZip", .string(user.billingZip)),
            ("billingCountry", .string(user.billingCountry)),
            ("dateOfBirth", .string(user.dateOfBirth)),
            ("age", .int(age)),
            ("isChildAccount", .bool(isChild)),
            ("avatarUrl", .string(user.avatarUrl)),
            ("createdAt", .date(user.createdAt)),
        ])
    }
}

extension PlanLimits {
    public var json: JSONValue {
        .object([
            ("servers", .int(servers)),
            ("memory", .int(memory)),
            ("disk", .int(disk)),
            ("cpu", .int(cpu)),
            ("databases", .int(databases)),
            ("backups", .int(backups)),
        ])
    }
}
