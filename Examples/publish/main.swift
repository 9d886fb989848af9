import DeidKit

// Publishes the bundled smart-meter sample under its policy, as `deid publish` does: the data,
// manifest.json, report.md and report.json land in the release directory together, or nothing
// does. The key comes from the environment (DEID_KEY), as the policy says.
let columns = [
    "meter_id", "customer_name", "email", "postcode", "dwelling_type", "occupants", "tariff", "reading_time", "kwh",
]
do {
    // Every problem of a policy at once, each with its line and key path.
    let policy = try Policy.load(path: "Datasets/smart_meter_policy.yaml", columns: columns)
    print("policy for dataset '\(policy.dataset.name)'")

    var request = TransformRequest(
        policyPath: "Datasets/smart_meter_policy.yaml", inputs: ["Datasets/smart_meter_sample.csv"])
    request.seed = 1  // reproducible noise, for this example only: a seeded release is not private
    let outcome = try Publisher.publish(request, directory: "example-release", dryRun: false)
    print("published \(outcome.manifest.rows.out) of \(outcome.manifest.rows.in) rows into \(outcome.directory ?? "")")
    if let risk = outcome.risk {
        print("smallest class \(risk.minClassSize), highest prosecutor risk \(risk.prosecutor.max)")
    }
} catch {
    // Errors name a file and line, or a policy key path, never a value.
    print("not published: \(error)")
}
