using System.Data.Common;
using System.Globalization;
using ExperimentEtl.Model;

namespace ExperimentEtl.Storage;

/// <summary>A compound as seen from a user or a ranking, with the number of experiments behind the figure.</summary>
public sealed record CompoundRef(int CompoundId, string Name, string Structure, long Experiments);

/// <summary>A user with the derived features.</summary>
/// <param name="FavoriteCompound">The favourite (ties: the lowest compound id); null without experiments.</param>
/// <param name="TiedFavorites">Every compound tied for favourite, the favourite included, by id.</param>
public sealed record UserDetail(
    int UserId, string Name, string Email, DateOnly SignupDate, int TotalExperiments, CompoundRef? FavoriteCompound, IReadOnlyList<CompoundRef> TiedFavorites);

/// <summary>A page of users.</summary>
/// <param name="ContinueAfter">The id the next page starts after; null when no user can follow.</param>
public sealed record UserListing(IReadOnlyList<UserDetail> Users, int? ContinueAfter);

/// <summary>A compound with how much it was used.</summary>
public sealed record CompoundDetail(int CompoundId, string Name, string Structure, long Experiments, int Users);

public sealed record UserRank(int UserId, string Name, int Experiments);

/// <summary>How many users ran exactly <paramref name="Experiments"/> experiments.</summary>
public sealed record HistogramBin(int Experiments, long Users);

/// <summary>The headline figures of the current data set; counts are 0 and averages null before any run.</summary>
public sealed record DataSummary(
    long Users,
    long Experiments,
    long Compounds,
    double? AverageExperimentCount,
    double? AverageExperimentCountActiveUsers,
    DateTimeOffset? LoadedAt,
    IReadOnlyList<CompoundDetail> TopCompounds,
    IReadOnlyList<UserRank> TopUsers,
    IReadOnlyList<HistogramBin> ExperimentsPerUser,
    RunRecord? LastRun);

/// <summary>
/// The read side of the API, in SQL that PostgreSQL and SQLite both run. Pages are keyed by id, so page 10,000 of a
/// million users costs what page 1 costs.
/// </summary>
public sealed class ReadModel(IEtlStore store)
{
    // A page of users and their tied favourites. The key bounds both sides of the join, so PostgreSQL reads 100 rows of
    // each table wherever the page is (a merge join read user_features from its first row).
    const string UsersPageTemplate = """
        WITH page AS (
            SELECT u.user_id, u.name, u.email, u.signup_date, f.experiment_count
            FROM users u JOIN user_features f ON f.user_id = u.user_id
            WHERE u.user_id > $1 AND f.user_id > $1 /*filter*/
            ORDER BY u.user_id
            LIMIT /*limit*/)
        SELECT p.user_id, p.name, p.email, p.signup_date, p.experiment_count, fav.compound_id, c.name, c.structure, fav.experiments
        FROM page p
        LEFT JOIN user_favorites fav ON fav.user_id = p.user_id
        LEFT JOIN compounds c ON c.compound_id = fav.compound_id
        ORDER BY p.user_id, fav.compound_id
        """;

    public const int MaxPageSize = 1000;

    // Each page size is a statement of its own: only these stay prepared (one user, the API's and the dashboard's
    // pages, the largest), so a client asking for every size cannot fill each connection with a thousand of them.
    static readonly HashSet<int> PreparedPageSizes = [1, 25, 100, MaxPageSize];

    /// <summary>The page's statement; <paramref name="filter"/> is a further condition on the user <c>u</c>.</summary>
    /// <remarks>
    /// PostgreSQL keeps these statements prepared and, after a few runs, plans them once. The page size is written into
    /// the text (a number the endpoint checked, 1 to 1000) because that one plan must know it: with <c>LIMIT $n</c> the
    /// plan assumed 11,000 rows and hash-joined all 1.7M favourites (181 ms a page instead of 1.7 ms).
    /// </remarks>
    internal static string UsersPage(int limit, string? filter = null) => UsersPageTemplate
        .Replace("/*filter*/", filter is null ? "" : "AND " + filter, StringComparison.Ordinal)
        .Replace("/*limit*/", limit.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);

    const string CompoundsPage = """
        SELECT c.compound_id, c.name, c.structure, COALESCE(cf.experiments, 0), COALESCE(cf.users, 0)
        FROM compounds c LEFT JOIN compound_features cf ON cf.compound_id = c.compound_id
        WHERE c.compound_id > $1
        ORDER BY c.compound_id
        LIMIT $2
        """;

    const string TopCompounds = """
        SELECT c.compound_id, c.name, c.structure, cf.experiments, cf.users
        FROM compound_features cf JOIN compounds c ON c.compound_id = cf.compound_id
        ORDER BY cf.experiments DESC, c.compound_id
        LIMIT $1
        """;

    const string TopUsers = """
        SELECT u.user_id, u.name, f.experiment_count
        FROM user_features f JOIN users u ON u.user_id = f.user_id
        ORDER BY f.experiment_count DESC, f.user_id
        LIMIT $1
        """;

    /// <summary>Users a page with <c>q</c> looks through at most.</summary>
    /// <remarks>
    /// A name held by few users would otherwise read every user after <c>after</c> to fill a page: 0.5–1.1 s on
    /// PostgreSQL at 1M users for a name nobody has, holding a read slot all that time. The bound is the id of the
    /// last user looked through, found first (<see cref="SearchScanEnd"/>) and passed to the page, so the page's next
    /// link is the bound it used even when a reload commits in between. (A subquery with LIMIT in FROM bounded the page
    /// as well on PostgreSQL, but SQLite materialised and sorted its 10,000 rows on every page: 5.9 ms against 0.85 ms.)
    /// </remarks>
    public const int SearchScanUsers = 10_000;

    // The id of the SearchScanUsers-th user after $1: where a search page stops looking. Null near the end.
    static readonly string SearchScanEnd =
        $"SELECT user_id FROM users WHERE user_id > $1 ORDER BY user_id LIMIT 1 OFFSET {SearchScanUsers - 1}";

    /// <summary>
    /// A page of users by id, with <paramref name="nameContains"/> a search that looks through at most
    /// <see cref="SearchScanUsers"/> users: its page may hold fewer than <paramref name="limit"/> users, even none, and
    /// still not be the last.
    /// </summary>
    public async Task<UserListing> ListUsersAsync(int limit, int after, string? nameContains, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, MaxPageSize);
        var pattern = string.IsNullOrWhiteSpace(nameContains) ? null : "%" + EscapeLike(nameContains.Trim().ToLowerInvariant()) + "%";
        await using var connection = await store.OpenReadConnectionAsync(cancellationToken);
        int? scanEnd = null;
        if (pattern is not null)
        {
            await using var command = Command(connection, SearchScanEnd, after);
            await PrepareAsync(command, cancellationToken);
            // An integer: int from PostgreSQL, long from SQLite; null when fewer users follow.
            scanEnd = await command.ExecuteScalarAsync(cancellationToken) is { } end and not DBNull
                ? Convert.ToInt32(end, CultureInfo.InvariantCulture)
                : null;
        }
        var users = await ReadUsersAsync(connection, limit, after, pattern, scanEnd ?? int.MaxValue, cancellationToken);
        // A short search page stopped at its scan's end (or at the last user): the next page goes on from there.
        return new UserListing(users, users.Count == limit ? users[^1].UserId : scanEnd);
    }

    async Task<List<UserDetail>> ReadUsersAsync(DbConnection connection, int limit, int after, string? pattern, int scanEnd, CancellationToken cancellationToken)
    {
        await using var command = pattern is null
            ? Command(connection, UsersPage(limit), after)
            : Command(connection, UsersPage(limit, $"{store.MatchesIgnoringCase("u.name", "$2")} AND u.user_id <= $3"), after, pattern, scanEnd);
        if (PreparedPageSizes.Contains(limit))
        {
            await PrepareAsync(command, cancellationToken);
        }
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var users = new List<UserDetail>();
        var ties = new List<CompoundRef>();
        UserDetail? current = null;
        while (await reader.ReadAsync(cancellationToken))
        {
            var userId = reader.GetInt32(0);
            if (current?.UserId != userId)
            {
                Flush();
                current = new UserDetail(userId, reader.GetString(1), reader.GetString(2), reader.GetFieldValue<DateOnly>(3), reader.GetInt32(4), null, []);
            }
            if (!reader.IsDBNull(5))
            {
                ties.Add(new CompoundRef(reader.GetInt32(5), reader.GetString(6), reader.GetString(7), reader.GetInt64(8)));
            }
        }
        Flush();
        return users;

        void Flush()
        {
            if (current is not null)
            {
                users.Add(current with { FavoriteCompound = ties.Count > 0 ? ties[0] : null, TiedFavorites = [.. ties] });
                ties.Clear();
            }
        }
    }

    public async Task<UserDetail?> GetUserAsync(int userId, CancellationToken cancellationToken)
    {
        if (userId <= int.MinValue)
        {
            return null;
        }
        await using var connection = await store.OpenReadConnectionAsync(cancellationToken);
        var page = await ReadUsersAsync(connection, 1, userId - 1, null, int.MaxValue, cancellationToken);
        return page is [{ } user] && user.UserId == userId ? user : null;
    }

    public async Task<IReadOnlyList<CompoundDetail>> ListCompoundsAsync(int limit, int after, CancellationToken cancellationToken)
    {
        await using var connection = await store.OpenReadConnectionAsync(cancellationToken);
        return await ReadCompoundsAsync(Command(connection, CompoundsPage, after, limit), cancellationToken);
    }

    public async Task<DataSummary> GetSummaryAsync(CancellationToken cancellationToken)
    {
        await using var connection = await store.OpenReadConnectionAsync(cancellationToken);
        // Four statements, one data set: a run that commits meanwhile shows in all of them or in none.
        await using var snapshot = await store.BeginConsistentReadAsync(connection, cancellationToken);
        DbCommand InSnapshot(string sql, params object[] values)
        {
            var command = Command(connection, sql, values);
            command.Transaction = snapshot;
            return command;
        }
        long users = 0, experiments = 0, compounds = 0, active = 0;
        DateTimeOffset? loadedAt = null;
        await using (var command = InSnapshot("SELECT users, experiments, compounds, active_users, loaded_at FROM dataset"))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            if (await reader.ReadAsync(cancellationToken))
            {
                (users, experiments, compounds, active) = (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3));
                loadedAt = reader.GetFieldValue<DateTimeOffset>(4);
            }
        }
        var topCompounds = await ReadCompoundsAsync(InSnapshot(TopCompounds, 10), cancellationToken);
        var topUsers = new List<UserRank>();
        await using (var command = InSnapshot(TopUsers, 20))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                topUsers.Add(new UserRank(reader.GetInt32(0), reader.GetString(1), reader.GetInt32(2)));
            }
        }
        // Exact counts per number of experiments: a few thousand values even at millions of users, binned by the reader.
        var histogram = new List<HistogramBin>();
        await using (var command = InSnapshot("SELECT experiment_count, count(*) FROM user_features GROUP BY experiment_count ORDER BY experiment_count"))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                histogram.Add(new HistogramBin(reader.GetInt32(0), reader.GetInt64(1)));
            }
        }
        var lastRun = await store.ListRunsAsync(1, null, cancellationToken) is [var newest, ..] ? newest : null;
        return new DataSummary(users, experiments, compounds,
            loadedAt is null ? null : Averages.PerUser(experiments, users),
            loadedAt is null ? null : Averages.PerUser(experiments, active),
            loadedAt, topCompounds, topUsers, histogram, lastRun);
    }

    static async Task<IReadOnlyList<CompoundDetail>> ReadCompoundsAsync(DbCommand command, CancellationToken cancellationToken)
    {
        await using (command)
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var compounds = new List<CompoundDetail>();
            while (await reader.ReadAsync(cancellationToken))
            {
                compounds.Add(new CompoundDetail(reader.GetInt32(0), reader.GetString(1), reader.GetString(2), reader.GetInt64(3), reader.GetInt32(4)));
            }
            return compounds;
        }
    }

    /// <summary>
    /// On PostgreSQL the statement is parsed once per connection and reused (Npgsql keeps it across the pool): parsing
    /// and planning were half of PostgreSQL's time for a page of users. SQLite prepares every command anyway.
    /// </summary>
    static async Task PrepareAsync(DbCommand command, CancellationToken cancellationToken)
    {
        if (command is Npgsql.NpgsqlCommand)
        {
            await command.PrepareAsync(cancellationToken);
        }
    }

    static DbCommand Command(DbConnection connection, string sql, params object[] values) => DbCommands.Create(connection, null, sql, values);

    static string EscapeLike(string text) => text.Replace("\\", "\\\\", StringComparison.Ordinal)
        .Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal);
}

/// <summary>The averages of the report, defined once.</summary>
public static class Averages
{
    /// <summary>Experiments per user; 0 when there are no users to divide by.</summary>
    public static double PerUser(long experiments, long users) => users == 0 ? 0 : (double)experiments / users;
}
