import Configuration
import Foundation
import GatehouseCore
import SystemPackage
import Yams

/// Where a config comes from: an optional YAML file, and the environment over it; and the
/// modules it may name.
public struct ConfigSource: Sendable {
    /// The YAML file; nil runs on the embedded defaults (and the environment).
    public var filePath: String?
    public var environment: [String: String]
    public var registry: ModuleRegistry

    public init(
        filePath: String?,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        registry: ModuleRegistry
    ) {
        self.filePath = filePath
        self.environment = environment
        self.registry = registry
    }
}

/// Several refused values at once, each naming its key.
public struct ConfigRefused: Error, CustomStringConvertible {
    public var issues: [ConfigIssue]
    public var description: String { issues.map(\.description).joined(separator: "\n") }
}

/// Reads a config, validates every key, and builds the runtime it describes.
public enum ConfigLoader {
    /// Environment variables with our prefix that are not config keys.
    static let reservedVariables: Set<String> = ["GATEHOUSE_CONFIG", "GATEHOUSE_PASSWORD"]

    public static func load(_ source: ConfigSource) async throws -> Runtime {
        let registry = source.registry
        let secrets = SecretsSpecifier<String, String>.dynamic { name, _ in
            name.hasSuffix("_PASSWORD") || name.hasSuffix("_KEY")
        }
        let aliased = aliasedVariables(source.environment, registry: registry)
        var providers: [any ConfigProvider] = [
            EnvironmentVariablesProvider(
                environmentVariables: source.environment.filter { $0.key.hasPrefix("GATEHOUSE_") },
                secretsSpecifier: secrets
            ).prefixKeys(with: "gatehouse"),
            // The modules' aliases (another product's names for their keys), below ours.
            EnvironmentVariablesProvider(
                environmentVariables: aliased,
                secretsSpecifier: secrets
            ).prefixKeys(with: "gatehouse"),
        ]
        var fileKeys: [String] = []
        if let path = source.filePath {
            let text: String
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw ConfigRefused(issues: [ConfigIssue(path: path, message: "cannot read the config file")])
            }
            do {
                fileKeys = try keyPaths(yaml: text)
                // An empty file (or one of comments only) is all defaults.
                if !fileKeys.isEmpty {
                    providers.append(try await FileProvider<YAMLSnapshot>(filePath: FilePath(path)))
                }
            } catch let issue as ConfigIssue {
                throw ConfigRefused(issues: [issue])
            } catch {
                throw ConfigRefused(issues: [ConfigIssue(path: path, message: "not valid YAML: \(error)")])
            }
        }

        let root = ConfigSection(
            reader: ConfigReader(providers: providers),
            presence: ConfigPresence(
                fileKeys: fileKeys,
                variables: source.environment.keys.filter { $0.hasPrefix("GATEHOUSE_") } + aliased.keys
            )
        )
        var issues: [ConfigIssue] = []
        func record(_ error: any Error) {
            issues.append((error as? ConfigIssue) ?? ConfigIssue(path: "(config)", message: "\(error)"))
        }

        var settings: CoreSettings?
        do {
            settings = try CoreSettings.read(root, defaultModules: registry.defaultModules)
        } catch {
            record(error)
        }
        // Every module reads (and so validates) its section, loaded or not, so that a section of
        // a module that is switched off is still checked and still counts as known.
        var instances: [String: any GatehouseModule] = [:]
        for type in registry.all {
            do {
                instances[type.id] = try makeModule(type, root)
            } catch {
                record(error)
            }
        }
        // Each declared feature's switch (a flag nobody declares is an unknown key).
        var features: [String: Bool] = [:]
        let featureSection = root.section("features")
        for feature in Feature.core + registry.all.flatMap({ $0.features }) where features[feature.name] == nil {
            do {
                features[feature.name] = try featureSection.bool(feature.name, default: feature.defaultOn)
            } catch {
                record(error)
            }
        }
        var modules: [any GatehouseModule] = []
        for id in settings?.modules ?? [] {
            if let type = registry.type(id: id), type.kind == .mail {
                issues.append(
                    ConfigIssue(path: "modules", message: "\"\(id)\" is a mail provider: choose it with mail.provider")
                )
            } else if let instance = instances[id] {
                modules.append(instance)
            } else if registry.type(id: id) == nil {
                let known = registry.all.map { $0.id }.joined(separator: ", ")
                issues.append(ConfigIssue(path: "modules", message: "unknown module \"\(id)\" (known: \(known))"))
            }
        }

        // The provider in use, among the registered ones.
        let mailer = settings.flatMap { instances["mail.\($0.mail.provider)"] as? any MailProvider }
        if let settings, mailer == nil {
            let known = registry.mailProviders.joined(separator: ", ")
            issues.append(
                ConfigIssue(
                    path: "mail.provider",
                    message: "must be one of \(known), got \"\(settings.mail.provider)\""
                )
            )
        }

        // A refused value stops the reading of its section, so its later keys were never seen:
        // report unknown keys once every value is good, lest they all look unknown.
        guard issues.isEmpty, let settings, let mailer else { throw ConfigRefused(issues: issues) }

        let known = root.recorder.recorded
        for key in fileKeys where !known.contains(key) {
            issues.append(ConfigIssue(path: key, message: "unknown key"))
        }
        let knownVariables = Set(known.map(environmentName(forKey:)))
        for name in source.environment.keys.sorted()
        where name.hasPrefix("GATEHOUSE_") && !knownVariables.contains(name) && !reservedVariables.contains(name) {
            issues.append(ConfigIssue(path: name, message: "unknown environment variable"))
        }

        guard issues.isEmpty else { throw ConfigRefused(issues: issues) }
        func provision<M>(_ module: M) -> M {
            guard let provisioning = module as? any Provisioning else { return module }
            do {
                return try provisioning.provisioned() as! M
            } catch {
                record(error)
                return module
            }
        }
        let serving = modules.map(provision)
        let provider = provision(mailer)
        guard issues.isEmpty else { throw ConfigRefused(issues: issues) }
        return Runtime(settings: settings, modules: serving, mailer: provider, features: FeatureSwitches(features))
    }

    /// The registered modules' environment aliases that are set, renamed to the `GATEHOUSE_`
    /// names of the keys they stand for.
    static func aliasedVariables(_ environment: [String: String], registry: ModuleRegistry) -> [String: String] {
        var renamed: [String: String] = [:]
        for alias in registry.all.flatMap({ $0.environmentAliases }) {
            guard let value = environment[alias.name] else { continue }
            renamed[environmentName(forKey: alias.key)] = alias.value.map { $0(value) } ?? value
        }
        return renamed
    }

    static func makeModule(_ type: any GatehouseModule.Type, _ root: ConfigSection) throws -> any GatehouseModule {
        try type.init(config: root)
    }

    /// The dotted path of every value in a YAML document (`server.port`, `features.login`, ...).
    static func keyPaths(yaml: String) throws -> [String] {
        guard let node = try Yams.compose(yaml: yaml) else { return [] }
        guard case .mapping = node else {
            throw ConfigIssue(path: "(file)", message: "the top level must be a mapping of keys")
        }
        var paths: [String] = []
        func walk(_ node: Node, _ prefix: [String]) {
            if case .mapping(let mapping) = node {
                for (key, value) in mapping {
                    walk(value, prefix + [key.string ?? "\(key)"])
                }
            } else {
                paths.append(prefix.joined(separator: "."))
            }
        }
        walk(node, [])
        return paths
    }

    /// The environment variable that overrides a key (see `ConfigPresence.environmentName`).
    public static func environmentName(forKey key: String) -> String {
        ConfigPresence.environmentName(forKey: key)
    }
}
