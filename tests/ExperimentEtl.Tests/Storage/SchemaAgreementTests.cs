using ExperimentEtl.Storage;
using ExperimentEtl.Tests.Infrastructure;

namespace ExperimentEtl.Tests.Storage;

/// <summary>
/// Every backend holds the tables declared in <see cref="DataSetTables"/>, as its own catalog describes them after a
/// load: the same tables, the same columns in the same order, nullable alike.
/// </summary>
public sealed class SchemaAgreementTests
{
    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task The_catalog_after_a_load_has_exactly_the_declared_tables_and_columns(Backend backend)
    {
        await using var test = await TestStore.CreateAsync(backend);
        using (var load = test.Store.BeginLoad())
        {
            TestStore.Load(load, "A", users: 3);
        }

        var catalog = await test.ReadCatalogAsync();

        var declared = new SortedDictionary<string, List<(string Column, bool Nullable)>>(
            DataSetTables.All.ToDictionary(t => t.Name, t => t.Columns.Select(c => (c.Name, c.Nullable)).ToList()), StringComparer.Ordinal);
        Assert.Equal(declared.Keys, catalog.Keys);
        foreach (var (table, columns) in declared)
        {
            Assert.True(columns.SequenceEqual(catalog[table]),
                $"{table}: declared [{string.Join(", ", columns)}], {backend} has [{string.Join(", ", catalog[table])}]");
        }
    }
}
