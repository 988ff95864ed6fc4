// The packets in flight and the envelopes parked at their servers (src/gui/packets.rs).
//
// The mesh holds every packet that can be on its way within a stretch of virtual time, each a
// quad around the origin with its link's two ends and its times; the CPU builds it once per
// stretch. Each frame only the clock changes, and this shader places each packet along its link
// by it, or collapses the quad to a point when the packet is not on its way. `Quad::at` in
// packets.rs is the same rule in Rust, for the tests.

#import bevy_sprite::{
    mesh2d_functions as mesh_functions,
    mesh2d_view_bindings::view,
}

#ifdef TONEMAP_IN_SHADER
#import bevy_core_pipeline::tonemapping
#endif
#ifdef SRGB_OUTPUT
#import bevy_render::color_operations::linear_to_srgb
#endif
#ifdef OKLAB_OUTPUT
#import bevy_render::color_operations::linear_rgb_to_oklab
#endif

// x: the moment on show (ms after the stretch's start); y: the cursor (events after the
// stretch's first event).
@group(#{MATERIAL_BIND_GROUP}) @binding(0) var<uniform> clock: vec4<f32>;
@group(#{MATERIAL_BIND_GROUP}) @binding(1) var atlas: texture_2d<f32>;
@group(#{MATERIAL_BIND_GROUP}) @binding(2) var atlas_sampler: sampler;

struct Vertex {
    @builtin(instance_index) instance_index: u32,
    // The corner's offset from the packet's centre.
    @location(0) corner: vec3<f32>,
    @location(1) uv: vec2<f32>,
    @location(2) color: vec4<f32>,
    // The link: from (xy) and to (zw).
    @location(3) path: vec4<f32>,
    // Leaves (x) and arrives (y); shown from event z until event w.
    @location(4) when: vec4<f32>,
};

struct VertexOutput {
    @builtin(position) position: vec4<f32>,
    @location(0) uv: vec2<f32>,
    @location(1) color: vec4<f32>,
};

@vertex
fn vertex(v: Vertex) -> VertexOutput {
    let now = clock.x;
    let cursor = clock.y;
    // On its way from when it leaves until it arrives, once the cursor has reached its event
    // (and, for an envelope in a queue, until it leaves that place in the stack).
    let shown = v.when.x <= now && now < v.when.y && v.when.z <= cursor && cursor < v.when.w;
    let f = clamp((now - v.when.x) / max(v.when.y - v.when.x, 1e-6), 0.0, 1.0);
    let centre = mix(v.path.xy, v.path.zw, f);
    // A packet not on its way: all four corners at one point, nothing to draw.
    let local = select(vec2<f32>(0.0), centre + v.corner.xy, shown);
    var out: VertexOutput;
    let world_from_local = mesh_functions::get_world_from_local(v.instance_index);
    out.position = mesh_functions::mesh2d_position_local_to_clip(
        world_from_local,
        vec4<f32>(local, 0.0, 1.0),
    );
    out.uv = v.uv;
    out.color = v.color;
    return out;
}

@fragment
fn fragment(in: VertexOutput) -> @location(0) vec4<f32> {
    var color = in.color * textureSample(atlas, atlas_sampler, in.uv);
#ifdef TONEMAP_IN_SHADER
    color = tonemapping::tone_mapping(color, view.color_grading);
#endif
#ifdef SRGB_OUTPUT
    color = vec4(linear_to_srgb(color.rgb), color.a);
#endif
#ifdef OKLAB_OUTPUT
    color = vec4(linear_rgb_to_oklab(color.rgb), color.a);
#endif
    return color;
}
