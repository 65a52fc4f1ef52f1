using System.Reflection;
using System.Reflection.Emit;

namespace ExperimentEtl.Tests.Architecture;

/// <summary>
/// The service's folders (one namespace each) depend one way: entry points (Endpoints, Cli, Hosting) → Pipeline → Storage →
/// Model, with Csv, Configuration and Telemetry beside. Read from the compiled assembly, so every reference counts:
/// signatures, base types, and the types, methods and fields each method body uses.
/// </summary>
public sealed class FolderDependencyTests
{
    static readonly Assembly Service = typeof(Program).Assembly;

    /// <summary>
    /// The folder pairs allowed to depend on each other: none since issue 18 moved the types every layer shares (run
    /// records, features, report rows) to Model and the core registration out of Configuration to Hosting. The test fails on
    /// any pair not listed, and on a listed pair that no longer depends both ways, so the list only shrinks.
    /// </summary>
    static readonly HashSet<(string, string)> KnownCycles = [];

    [Fact]
    public void No_folder_depends_on_a_folder_that_depends_on_it_beyond_the_known_pairs()
    {
        var graph = FolderGraph();
        var cycles = new List<string>();
        var found = new HashSet<(string, string)>();
        foreach (var (from, targets) in graph)
        {
            foreach (var to in targets)
            {
                if (string.CompareOrdinal(from, to) < 0 && Reaches(graph, to, from) is { } back)
                {
                    found.Add((from, to));
                    if (!KnownCycles.Contains((from, to)))
                    {
                        cycles.Add($"{from} → {to}, and back: {string.Join(" → ", back)}\n" +
                                   string.Join("\n", Evidence(from, to).Concat(Evidence(back[0], back[1])).Take(6)));
                    }
                }
            }
        }
        Assert.True(cycles.Count == 0, "folders that depend on each other:\n" + string.Join("\n", cycles));
        Assert.True(KnownCycles.IsSubsetOf(found), "no longer depending on each other (remove from KnownCycles): " +
            string.Join(", ", KnownCycles.Except(found)));
    }

    [Fact]
    public void Model_the_bottom_layer_uses_no_other_folder()
    {
        var uses = FolderGraph().GetValueOrDefault("Model") ?? [];
        Assert.True(uses.Count == 0, "Model uses:\n" + string.Join("\n", uses.SelectMany(to => Evidence("Model", to)).Take(6)));
    }

    [Fact]
    public void The_check_finds_a_cycle_between_two_folders()
    {
        var graph = new Dictionary<string, HashSet<string>> { ["A"] = ["B"], ["B"] = ["C"], ["C"] = ["A"] };
        Assert.Equal(["C", "A"], Reaches(graph, "C", "A"));
        Assert.Null(Reaches(new Dictionary<string, HashSet<string>> { ["A"] = ["B"], ["B"] = [] }, "B", "A"));
    }

    /// <summary>The path from <paramref name="from"/> to <paramref name="to"/>, or null.</summary>
    static List<string>? Reaches(Dictionary<string, HashSet<string>> graph, string from, string to)
    {
        var previous = new Dictionary<string, string> { [from] = from };
        var queue = new Queue<string>([from]);
        while (queue.TryDequeue(out var node))
        {
            if (node == to)
            {
                var path = new List<string> { to };
                while (path[^1] != from)
                {
                    path.Add(previous[path[^1]]);
                }
                path.Reverse();
                return path;
            }
            foreach (var next in graph.GetValueOrDefault(node) ?? [])
            {
                if (previous.TryAdd(next, node))
                {
                    queue.Enqueue(next);
                }
            }
        }
        return null;
    }

    /// <summary>Top-level folder → the folders its types use.</summary>
    static Dictionary<string, HashSet<string>> FolderGraph()
    {
        var graph = new Dictionary<string, HashSet<string>>();
        foreach (var (from, to, _) in References())
        {
            if (from != to)
            {
                graph.TryAdd(from, []);
                graph[from].Add(to);
            }
        }
        return graph;
    }

    static IEnumerable<string> Evidence(string from, string to) =>
        References().Where(r => r.From == from && r.To == to).Select(r => $"  {r.Where}").Distinct();

    /// <summary>Every use of a type of one folder by a type of another, with where it happens.</summary>
    static IEnumerable<(string From, string To, string Where)> References()
    {
        foreach (var type in Service.GetTypes())
        {
            if (Folder(type) is not { } from)
            {
                continue;
            }
            foreach (var (used, where) in UsedBy(type))
            {
                if (Folder(used) is { } to && to != from)
                {
                    yield return (from, to, $"{type.FullName} {where} uses {used.FullName}");
                }
            }
        }
    }

    /// <summary>The folder of a service type: the namespace part after ExperimentEtl (null for Program and outside types).</summary>
    static string? Folder(Type type)
    {
        while (type.IsNested)
        {
            type = type.DeclaringType!;
        }
        if (type.Assembly != Service || type.Namespace is not { } ns || !ns.StartsWith("ExperimentEtl.", StringComparison.Ordinal))
        {
            return null;
        }
        return ns["ExperimentEtl.".Length..].Split('.')[0];
    }

    const BindingFlags Declared = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    static IEnumerable<(Type Used, string Where)> UsedBy(Type type)
    {
        foreach (var t in Expand(type.BaseType).Concat(type.GetInterfaces().SelectMany(Expand)))
        {
            yield return (t, "inherits");
        }
        foreach (var field in type.GetFields(Declared))
        {
            foreach (var t in Expand(field.FieldType))
            {
                yield return (t, $"field {field.Name}");
            }
        }
        foreach (var method in type.GetMethods(Declared).Cast<MethodBase>().Concat(type.GetConstructors(Declared)))
        {
            var signature = method.GetParameters().Select(p => p.ParameterType)
                .Concat(method is MethodInfo m ? [m.ReturnType] : []);
            foreach (var t in signature.SelectMany(Expand))
            {
                yield return (t, $"{method.Name} signature");
            }
            foreach (var t in BodyReferences(method).SelectMany(Expand))
            {
                yield return (t, $"{method.Name} body");
            }
        }
    }

    /// <summary>A type and its element and generic argument types.</summary>
    static IEnumerable<Type> Expand(Type? type)
    {
        if (type is null)
        {
            yield break;
        }
        if (type.HasElementType)
        {
            foreach (var t in Expand(type.GetElementType()))
            {
                yield return t;
            }
            yield break;
        }
        if (type.IsGenericParameter)
        {
            yield break;
        }
        yield return type;
        if (type.IsGenericType)
        {
            foreach (var t in type.GetGenericArguments().SelectMany(Expand))
            {
                yield return t;
            }
        }
    }

    static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!).ToDictionary(o => o.Value);

    /// <summary>The types a method body names: types, and the declaring types of the methods and fields it uses.</summary>
    static IEnumerable<Type> BodyReferences(MethodBase method)
    {
        var il = method.GetMethodBody()?.GetILAsByteArray();
        if (il is null)
        {
            yield break;
        }
        var module = method.Module;
        Type[]? typeArguments = method.DeclaringType is { IsGenericType: true } d ? d.GetGenericArguments() : null;
        Type[]? methodArguments = method.IsGenericMethod ? method.GetGenericArguments() : null;
        var position = 0;
        while (position < il.Length)
        {
            short value = il[position++];
            if (value == 0xFE)
            {
                value = (short)(0xFE00 | il[position++]);
            }
            var opCode = OpCodesByValue[value];
            var operandSize = opCode.OperandType switch
            {
                OperandType.InlineNone => 0,
                OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                OperandType.InlineVar => 2,
                OperandType.InlineI8 or OperandType.InlineR => 8,
                OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, position),
                _ => 4,
            };
            if (opCode.OperandType is OperandType.InlineMethod or OperandType.InlineField or OperandType.InlineType or OperandType.InlineTok)
            {
                MemberInfo? member = null;
                try
                {
                    member = module.ResolveMember(BitConverter.ToInt32(il, position), typeArguments, methodArguments);
                }
                catch (ArgumentException)
                {
                    // A token of a generic context this walk does not track: named by the signatures anyway.
                }
                switch (member)
                {
                    case Type t:
                        yield return t;
                        break;
                    case MethodBase m when m.DeclaringType is { } owner:
                        yield return owner;
                        break;
                    case FieldInfo f when f.DeclaringType is { } owner:
                        yield return owner;
                        yield return f.FieldType;
                        break;
                }
            }
            position += operandSize;
        }
    }
}
