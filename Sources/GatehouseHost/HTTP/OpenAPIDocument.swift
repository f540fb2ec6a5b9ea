import Foundation
import Yams

/// The API's description (`Sources/GatehouseHost/Resources/openapi.yaml`, linked from the
/// repository's top as `openapi.yaml`): read once, served as written and as JSON.
enum OpenAPIDocument {
    static let yaml: String = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml"),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else { return "" }
        return text
    }()

    static let json: [UInt8] = {
        guard let document = try? Yams.load(yaml: yaml),
            let data = try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys])
        else { return Array("{}".utf8) }
        return Array(data)
    }()
}
