import Foundation
import GatehouseCore

/// `policy.age`: the minimum age to register, by billing country (`policies.age.*`), and where a
/// date of birth is required. (The adult ages for `isChildAccount` in the same section are the
/// core's.)
public struct AgePolicy: PolicyModule {
    public static let id = "policy.age"

    /// EU and EEA members and the UK: 14 by default.
    static let europe: Set<String> = [
        "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT", "LU",
        "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO", "GB",
    ]

    public let minimumAge: Int
    public let minimumAges: [String: Int]
    /// Billing countries where registering needs a date of birth.
    public let requireDateOfBirthIn: Set<String>

    public init(config: ConfigSection) throws {
        let section = config.section("policies.age")
        minimumAge = try section.int("minimumAge", default: 13, in: 0...150)
        var ages: [String: Int] = [:]
        for code in Countries.all.sorted() {
            let age =
                try section.optionalInt("minimumAges.\(code)", in: 0...150) ?? (Self.europe.contains(code) ? 14 : nil)
            if let age { ages[code] = age }
        }
        minimumAges = ages
        let required = try section.stringList("requireDateOfBirthIn", default: Self.europe.sorted())
        for code in required where !Countries.isValid(code) {
            throw section.issue("requireDateOfBirthIn", "\"\(code)\" is not an ISO 3166-1 alpha-2 country code")
        }
        requireDateOfBirthIn = Set(required)
    }

    public func minimumAge(country: String?) -> Int {
        country.flatMap { minimumAges[$0] } ?? minimumAge
    }

    public func decide(_ input: PolicyInput, core: Core) async -> PolicyDecision {
        guard input.point == .register, case .registration(let dateOfBirth, let billingCountry) = input.subject
        else { return .allow }
        guard let dateOfBirth else {
            if let country = billingCountry, requireDateOfBirthIn.contains(country) {
                return .deny(.validation(field: "dateOfBirth", "is required to register from \(country)"))
            }
            return .allow
        }
        let minimum = minimumAge(country: billingCountry)
        if let age = Validate.age(dateOfBirth: dateOfBirth), age < minimum {
            return .deny(.validation(field: "dateOfBirth", "you must be at least \(minimum) years old to register"))
        }
        return .allow
    }
}
