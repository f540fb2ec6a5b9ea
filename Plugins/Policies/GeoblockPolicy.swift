import Foundation
import GatehouseCore
import HTTPTypes

/// `policy.geoblock` (`policies.geoblock.*`): refuses registration from listed countries.
///
/// The country is the first of: the `header` a trusted proxy sets (`CF-IPCountry`; believed
/// only when the request came through `server.trustedProxies`), the `.mmdb` database's
/// answer for the client address, the submitted `billingCountry`.
public struct GeoblockPolicy: PolicyModule, Provisioning {
    public static let id = "policy.geoblock"
    public static let refusal = GatehouseError.forbidden("Registration is not available in your region")

    public let countries: Set<String>
    public let header: HTTPField.Name?
    /// `policies.geoblock.mmdb`, opened when the policy is loaded.
    let databasePath: String?
    private(set) var database: GeoIPDatabase?

    public init(config: ConfigSection) throws {
        let section = config.section("policies.geoblock")
        var countries: Set<String> = []
        for code in try section.stringList("countries", default: []) {
            let upper = code.uppercased()
            guard Countries.isValid(upper) else {
                throw section.issue("countries", "\"\(code)\" is not an ISO 3166-1 alpha-2 country code")
            }
            countries.insert(upper)
        }
        self.countries = countries
        if let name = try section.optionalString("header"), !name.isEmpty {
            guard let field = HTTPField.Name(name) else {
                throw section.issue("header", "\"\(name)\" is not a header name")
            }
            header = field
        } else {
            header = nil
        }
        databasePath = try section.optionalString("mmdb").flatMap { $0.isEmpty ? nil : $0 }
        database = nil
    }

    public func provisioned() throws -> GeoblockPolicy {
        guard let databasePath else { return self }
        var serving = self
        do {
            serving.database = try GeoIPDatabase(path: databasePath)
        } catch {
            throw ConfigIssue(path: "policies.geoblock.mmdb", message: "cannot open \(databasePath): \(error)")
        }
        return serving
    }

    public func decide(_ input: PolicyInput, core: Core) async -> PolicyDecision {
        guard input.point == .register, !countries.isEmpty, let country = country(of: input) else { return .allow }
        return countries.contains(country) ? .deny(Self.refusal) : .allow
    }

    /// Where the request comes from, by the first source that knows.
    func country(of input: PolicyInput) -> String? {
        if let header, input.viaTrustedProxy, let value = input.headers[header] {
            let code = value.trimmingCharacters(in: .whitespaces).uppercased()
            // "XX": the proxy does not know either.
            if Countries.isValid(code) { return code }
        }
        if let database, let address = input.clientIP, let code = database.country(of: address) {
            return code.uppercased()
        }
        if case .registration(_, let billingCountry) = input.subject { return billingCountry }
        return nil
    }
}
