/*
 * A virtio-mmio device shaped like libsel4vmmplatsupport's virtio emulation
 * helpers: the register window is a reservation whose fault callback
 * emulates the registers; a queue notification walks the virtqueue in guest
 * RAM (read and written with vm_ram_touch and the guest-RAM callbacks) and
 * raises the used-buffer interrupt, which the guest acknowledges.
 */
#include "consumer.h"

static void irq_ack(vm_vcpu_t *vcpu, int irq, void *cookie)
{
    (void)vcpu;
    struct cons_virtio *dev = cookie;
    if (irq == CONS_VIRTIO_IRQ) {
        dev->acks++;
    }
}

static int guest_read(uintptr_t addr, void *buf, size_t size)
{
    return vm_ram_touch(&cons.vm, addr, size, vm_guest_ram_read_callback, buf);
}

static int guest_write(uintptr_t addr, void *buf, size_t size)
{
    return vm_ram_touch(&cons.vm, addr, size, vm_guest_ram_write_callback, buf);
}

/* Handles one buffer: upper-cases it in place and adds it to the used ring. */
static int process_queue(struct cons_virtio *dev)
{
    struct cons_vring_desc desc;
    uint8_t data[64];
    if (guest_read(dev->queue_desc, &desc, sizeof(desc)) != 0 || desc.len > sizeof(data)) {
        return -1;
    }
    if (guest_read((uintptr_t)desc.addr, data, desc.len) != 0) {
        return -1;
    }
    for (uint32_t i = 0; i < desc.len; i++) {
        if (data[i] >= 'a' && data[i] <= 'z') {
            data[i] = (uint8_t)(data[i] - 'a' + 'A');
        }
    }
    if (guest_write((uintptr_t)desc.addr, data, desc.len) != 0) {
        return -1;
    }
    struct cons_vring_used used = { 0, (uint16_t)(dev->used_idx + 1), 0, desc.len };
    if (guest_write(dev->queue_used, &used, sizeof(used)) != 0) {
        return -1;
    }
    dev->used_idx++;
    dev->interrupt_status |= 1;
    /* Any vCPU may deliver it; the boot vCPU takes device interrupts here. */
    return vm_inject_irq(cons.vm.vcpus[BOOT_VCPU], CONS_VIRTIO_IRQ);
}

static memory_fault_result_t virtio_mmio_fault(vm_t *vm, vm_vcpu_t *vcpu, uintptr_t fault_addr, size_t fault_length,
                                               void *cookie)
{
    (void)vm;
    struct cons_virtio *dev = cookie;
    uintptr_t off = fault_addr - CONS_VIRTIO_BASE;
    if (fault_length != 4 || (off & 3)) {
        return FAULT_ERROR;
    }
    if (is_vcpu_read_fault(vcpu)) {
        uint32_t v = 0;
        switch (off) {
        case VIRTIO_MMIO_MAGIC: v = VIRTIO_MAGIC; break;
        case VIRTIO_MMIO_VERSION: v = 2; break;
        case VIRTIO_MMIO_DEVICE_ID: v = 3; break; /* console */
        case VIRTIO_MMIO_INTERRUPT_STATUS: v = dev->interrupt_status; break;
        default: break;
        }
        set_vcpu_fault_data(vcpu, v);
    } else {
        uint32_t v = (uint32_t)emulate_vcpu_fault(vcpu, 0);
        switch (off) {
        case VIRTIO_MMIO_QUEUE_DESC: dev->queue_desc = v; break;
        case VIRTIO_MMIO_QUEUE_USED: dev->queue_used = v; break;
        case VIRTIO_MMIO_INTERRUPT_ACK: dev->interrupt_status &= ~v; break;
        case VIRTIO_MMIO_QUEUE_NOTIFY:
            dev->notifies++;
            if (process_queue(dev) != 0) {
                return FAULT_ERROR;
            }
            break;
        default: break;
        }
    }
    advance_vcpu_fault(vcpu);
    return FAULT_HANDLED;
}

int cons_virtio_init(void)
{
    struct cons_virtio *dev = &cons.virtio;
    dev->res = vm_reserve_memory_at(&cons.vm, CONS_VIRTIO_BASE, CONS_VIRTIO_SIZE, virtio_mmio_fault, dev);
    if (!dev->res) {
        return -1;
    }
    uintptr_t addr;
    size_t size;
    vm_get_reservation_memory_region(dev->res, &addr, &size);
    if (addr != CONS_VIRTIO_BASE || size != CONS_VIRTIO_SIZE) {
        return -1;
    }
    return vm_register_irq(cons.vm.vcpus[BOOT_VCPU], CONS_VIRTIO_IRQ, irq_ack, dev);
}
